"""Test-side Kafka clients: produce raw values, read topics from the start."""

import asyncio
import json
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord

from kefu.shared.settings import Settings
from kefu.shared.topics import Topic, topic_name


async def produce(
    settings: Settings, topic: Topic, *values: bytes | dict[str, Any], key: str = "k"
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for value in values:
            raw = value if isinstance(value, bytes) else json.dumps(value).encode()
            await producer.send_and_wait(
                topic_name(settings.topic_prefix, topic), raw, key=key.encode()
            )
    finally:
        await producer.stop()


class TopicReader:
    """Reads topics from the beginning; `take` waits for records that match."""

    def __init__(self, settings: Settings, *topics: Topic) -> None:
        self.consumer = AIOKafkaConsumer(
            *(topic_name(settings.topic_prefix, topic) for topic in topics),
            bootstrap_servers=settings.kafka_bootstrap,
            group_id=None,  # every partition from the start, no group join to wait for
            auto_offset_reset="earliest",
        )
        self.seen: list[ConsumerRecord[bytes, bytes]] = []

    async def __aenter__(self) -> "TopicReader":
        await self.consumer.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.consumer.stop()

    async def take(
        self,
        count: int,
        where: Callable[[dict[str, Any]], bool] = lambda _: True,
        wait_s: float = 30,
        repeats: bool = True,
    ) -> list[dict[str, Any]]:
        """The first `count` JSON values that match, waiting up to `wait_s` seconds; without
        `repeats`, a value whose "id" came before does not count (a republished event)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        while len(matching := self._matching(where, repeats)) < count and loop.time() < deadline:
            batches = await self.consumer.getmany(timeout_ms=200)
            for records in batches.values():
                self.seen.extend(records)
        return matching[:count] if len(matching) >= count else matching

    def _matching(
        self, where: Callable[[dict[str, Any]], bool], repeats: bool = True
    ) -> list[dict[str, Any]]:
        values = [json.loads(record.value) for record in self.seen]
        if not repeats:
            firsts: dict[str, dict[str, Any]] = {}
            for value in values:
                firsts.setdefault(value["id"], value)
            values = list(firsts.values())
        return [value for value in values if where(value)]

    async def settle(self, seconds: float = 1.0) -> list[dict[str, Any]]:
        """Everything that arrived after reading on for `seconds` more."""
        await self.take(10**9, wait_s=seconds)
        return [json.loads(record.value) for record in self.seen]

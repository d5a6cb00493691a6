"""A steady mixed load on a running kefu, as its users make it: customers write in over
`channel.inbound`, agents come online, reply to and solve what they are given over
`agent.inbound`, and customers answer their surveys on the survey page."""

import asyncio
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from kefu.shared.settings import Settings
from kefu.shared.topics import Topic, topic_name

AGENTS = ("ag-0", "ag-1", "ag-2", "ag-3")
CAPACITY = 2


@dataclass
class Load:
    settings: Settings
    survey_port: Callable[[], int]  # a survey replica that answers now
    seed: int = 7
    sent: list[str] = field(default_factory=list)  # message ids, in order
    answered: set[str] = field(default_factory=set)  # surveys answered
    survey_statuses: list[int] = field(default_factory=list)  # every answer's HTTP status
    _producer: AIOKafkaProducer | None = None
    _tasks: set["asyncio.Task[None]"] = field(default_factory=set)

    async def __aenter__(self) -> "Load":
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self.settings.kafka_bootstrap, acks="all"
        )
        await self._producer.start()
        self._random = random.Random(self.seed)
        return self

    async def __aexit__(self, *_: object) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._producer.stop()

    async def _send(self, topic: Topic, value: dict[str, Any], key: str) -> None:
        name = topic_name(self.settings.topic_prefix, topic)
        await self._producer.send_and_wait(name, json.dumps(value).encode(), key=key.encode())

    async def agents_online(self) -> None:
        for agent in AGENTS:
            presence = {
                "action": "presence",
                "agent_id": agent,
                "status": "online",
                "skills": ["general", "tech"],
                "capacity": CAPACITY,
                "tier": 1,
            }
            await self._send(Topic.AGENT_INBOUND, presence, agent)

    async def customers(self, count: int, per_second: float) -> None:
        """`count` new customers, each writing one message; every fifth reports an outage."""
        for number in range(count):
            message_id = f"m-{number:04}"
            text = "the site is down, outage" if number % 5 == 0 else "where is my order?"
            message = {
                "channel": "email",
                "message_id": message_id,
                "from": {"address": f"c{number:04}@example.com"},
                "subject": f"question {number}",
                "text": text,
            }
            await self._send(Topic.CHANNEL_INBOUND, message, message["from"]["address"])
            self.sent.append(message_id)
            await asyncio.sleep(1 / per_second)

    def work(self) -> None:
        """Agents answer and solve each ticket they are given; customers answer surveys."""
        for run in (self._agents_work, self._customers_answer):
            task = asyncio.create_task(run())
            self._tasks.add(task)

    async def _agents_work(self) -> None:
        async for value in self._follow(Topic.ROUTING_EVENTS, "kefu.ticket.assigned"):
            data = value["data"]
            task = asyncio.create_task(self._answer(data["ticket_id"], data["agent_id"]))
            self._tasks.add(task)

    async def _answer(self, ticket_id: str, agent: str) -> None:
        await asyncio.sleep(self._random.uniform(0.5, 5))
        reply = {
            "action": "reply",
            "agent_id": agent,
            "command_id": f"reply-{ticket_id}-{agent}",
            "ticket_id": ticket_id,
            "text": "Thank you, it is sorted.",
        }
        await self._send(Topic.AGENT_INBOUND, reply, agent)
        await asyncio.sleep(0.3)
        solve = {
            "action": "set_status",
            "agent_id": agent,
            "command_id": f"solve-{ticket_id}-{agent}",
            "ticket_id": ticket_id,
            "status": "solved",
        }
        await self._send(Topic.AGENT_INBOUND, solve, agent)

    async def _customers_answer(self) -> None:
        async for value in self._follow(Topic.SURVEY_EVENTS, "kefu.survey.issued"):
            task = asyncio.create_task(self._rate(value["data"]["url"], value["data"]["survey_id"]))
            self._tasks.add(task)

    async def _rate(self, url: str, survey_id: str) -> None:
        """The customer presses a score; a page that fails is tried again, as people do."""
        score = str(self._random.randint(1, 5))
        async with httpx.AsyncClient(timeout=5) as client:
            for _ in range(60):
                page = f"http://127.0.0.1:{self.survey_port()}{urlsplit(url).path}"
                try:
                    answer = await client.post(page, data={"score": score})
                    self.survey_statuses.append(answer.status_code)
                    if answer.status_code in (200, 409):
                        self.answered.add(survey_id)
                        return
                except httpx.HTTPError:
                    self.survey_statuses.append(0)
                await asyncio.sleep(1)

    async def _follow(self, topic: Topic, kind: str):
        """Every new record of a type on a topic, once each (by id)."""
        consumer = AIOKafkaConsumer(
            topic_name(self.settings.topic_prefix, topic),
            bootstrap_servers=self.settings.kafka_bootstrap,
            group_id=None,
            auto_offset_reset="earliest",
        )
        await consumer.start()
        seen: set[str] = set()
        try:
            while True:
                batches = await consumer.getmany(timeout_ms=200)
                for records in batches.values():
                    for record in records:
                        value = json.loads(record.value)
                        if value.get("type") == kind and value["id"] not in seen:
                            seen.add(value["id"])
                            yield value
        finally:
            await consumer.stop()

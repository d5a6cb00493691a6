"""The bus and its batch consumer against the real broker: headers, keys, skips, DLQ."""

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

from kefu.shared.bus import BATCH_MAX_RECORDS
from kefu.shared.consumer import Input, Rejected
from kefu.shared.events import decode_event, new_event
from kefu.shared.events.schema import envelope_schema
from kefu.shared.events.ticket import Reopened
from kefu.shared.service import Service
from kefu.shared.settings import Settings
from kefu.shared.topics import Topic
from tests.kafka import TopicReader, produce
from tests.waiting import wait_until


def reopened(event_id: str, ticket_id: str = "1001") -> Any:
    data = Reopened(ticket_id=ticket_id, by="system", at=datetime.now(UTC))
    return new_event(data, id=event_id, source="kefu/test", correlationid="c-1")


def recording_service(settings: Settings, seen: list[str], *topics: Topic) -> Service:
    """A service that records the type of every event its one consumer reads."""
    topics = topics or (Topic.TICKET_EVENTS,)
    service = Service.create("recorder", settings)
    service.bus.declare_publishes(*topics)

    async def handle(inputs: list[Input[Any]]) -> list[Rejected]:
        seen.extend(one.value.id for one in inputs)
        return []

    service.bus.consume(
        *topics,
        decode=lambda record: decode_event(record.value),
        handle=handle,
        schema=envelope_schema(*topics),
        description="records what it reads",
    )
    return service


async def test_publish_keys_by_ticket_and_sets_cloudevents_headers(settings: Settings) -> None:
    service = Service.create("publisher", settings)
    service.bus.declare_publishes(Topic.TICKET_EVENTS)
    async with service.app(), TopicReader(settings, Topic.TICKET_EVENTS) as reader:
        await service.bus.publish(reopened("e-1", ticket_id="4242"))
        await reader.take(1)
    record = reader.seen[0]
    assert record.key == b"4242"
    headers = dict(record.headers)
    assert headers["content-type"] == b"application/cloudevents+json"
    assert headers["kefu-type"] == b"kefu.ticket.reopened"
    assert not [name for name in headers if name.lower().startswith("ce_")]  # structured mode


async def test_one_consumer_reads_every_topic_of_its_service(settings: Settings) -> None:
    from kefu.shared.events.routing import TicketQueued

    seen: list[str] = []
    service = recording_service(settings, seen, Topic.TICKET_EVENTS, Topic.ROUTING_EVENTS)
    queued = TicketQueued(
        ticket_id="1001", skills=["tech"], tier=1, reason="no agent", at=datetime.now(UTC)
    )
    async with service.app():
        await service.bus.publish(reopened("e-1"))
        await service.bus.publish(new_event(queued, id="q-1", source="kefu/t", correlationid="c"))
        await wait_until(lambda: len(seen) == 2)
    assert sorted(seen) == ["e-1", "q-1"]


async def test_unknown_types_are_skipped_and_oversized_bodies_dead_lettered(backend) -> None:
    from kefu.shared.admin import create_topics
    from tests.conftest import isolated_settings

    settings = isolated_settings(backend, max_body_bytes=2000)
    await create_topics(settings, 1)
    seen: list[str] = []
    future = {**reopened("e-new").model_dump(mode="json"), "type": "kefu.ticket.teleported"}
    huge = reopened("e-huge").model_dump(mode="json") | {"pad": "x" * 3000}
    service = recording_service(settings, seen)
    async with service.app(), TopicReader(settings, Topic.DLQ) as reader:
        await produce(
            settings, Topic.TICKET_EVENTS, future, huge, reopened("e-ok").model_dump(mode="json")
        )
        letters = await reader.take(1)
        await wait_until(lambda: "e-ok" in seen)
        letters = await reader.settle(1.0)
    assert seen == ["e-ok"]
    assert len(letters) == 1 and "exceeds KEFU_MAX_BODY_BYTES" in letters[0]["data"]["error"]


async def test_an_unknown_type_on_a_topic_of_one_type_is_skipped_too(settings: Settings) -> None:
    """ops.events carries few types; a newer producer's type is skipped, not dead-lettered."""
    seen: list[str] = []
    service = recording_service(settings, seen, Topic.OPS_EVENTS)
    future = {**reopened("e-new").model_dump(mode="json"), "type": "kefu.ops.meteor_strike"}
    async with service.app(), TopicReader(settings, Topic.DLQ) as reader:
        await produce(settings, Topic.OPS_EVENTS, future)
        assert await reader.settle(2.0) == []
    assert seen == []


async def test_a_gathering_consumer_takes_a_lone_record_at_once_then_gathers(
    settings: Settings,
) -> None:
    """A service off the customer's path (`gather_s`): a record after a quiet spell goes at
    once; what follows it within the rest is one batch, not one each."""
    batches: list[tuple[float, list[str]]] = []
    service = gathering_service(settings, batches, gather_s=1.0)
    async with service.app():
        await service.bus.publish(reopened("warm-up"))
        await wait_until(lambda: bool(batches), wait_s=30)
        await asyncio.sleep(1.2)  # a quiet spell
        sent = time.monotonic()
        await service.bus.publish(reopened("first"))
        for n in range(8):
            await asyncio.sleep(0.05)
            await service.bus.publish(reopened(f"then-{n}"))
        await wait_until(lambda: sum(len(ids) for _, ids in batches) == 10, wait_s=10)
    first = next(at for at, ids in batches if "first" in ids)
    assert first - sent < 0.5, "a record after a quiet spell waits for nothing"
    assert len(batches) <= 3, [ids for _, ids in batches]  # warm-up, first, the rest


async def test_a_gathering_consumer_takes_at_most_its_records_and_does_not_rest_when_full(
    settings: Settings,
) -> None:
    """Under load its batches are full (`most` records each) and follow one another at
    once: the rest is only for a batch that was not full."""
    await produce(
        settings,
        Topic.TICKET_EVENTS,
        *(reopened(f"e-{n}").model_dump(mode="json") for n in range(10)),
    )
    batches: list[tuple[float, list[str]]] = []
    service = gathering_service(settings, batches, gather_s=3.0, most=4)
    async with service.app():
        await wait_until(lambda: sum(len(ids) for _, ids in batches) == 10, wait_s=30)
    assert [len(ids) for _, ids in batches] == [4, 4, 2]
    assert batches[-1][0] - batches[0][0] < 1.5, "full batches wait for nothing"


def gathering_service(
    settings: Settings,
    batches: list[tuple[float, list[str]]],
    gather_s: float,
    most: int = BATCH_MAX_RECORDS,
) -> Service:
    service = Service.create("gatherer", settings)
    service.bus.declare_publishes(Topic.TICKET_EVENTS)

    async def handle(inputs: list[Input[Any]]) -> list[Rejected]:
        batches.append((time.monotonic(), [one.value.id for one in inputs]))
        return []

    service.bus.consume(
        Topic.TICKET_EVENTS,
        decode=lambda record: decode_event(record.value),
        handle=handle,
        schema=envelope_schema(Topic.TICKET_EVENTS),
        description="gathers",
        gather_s=gather_s,
        most=most,
    )
    return service

"""The bus and its guard against the real broker: headers, keys, repeats, skips, DLQ."""

from datetime import UTC, datetime
from typing import Any

from shared.events import new_event
from shared.events.schema import envelope_schema
from shared.events.ticket import Reopened
from shared.service import Service
from shared.settings import Settings
from shared.topics import Topic
from tests.kafka import TopicReader, produce

TicketEvents: Any = envelope_schema(Topic.TICKET_EVENTS)


def reopened(event_id: str, ticket_id: str = "1001") -> Any:
    data = Reopened(ticket_id=ticket_id, by="system", at=datetime.now(UTC))
    return new_event(data, id=event_id, source="kefu/test", correlationid="c-1")


def recording_service(settings: Settings, seen: list[str]) -> Service:
    service = Service.create("recorder", settings)
    service.bus.declare_publishes(Topic.TICKET_EVENTS)

    @service.bus.subscriber(Topic.TICKET_EVENTS)
    async def on_event(event: TicketEvents) -> None:
        seen.append(event.id)

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
    assert headers["ce_type"] == b"kefu.ticket.reopened"


async def test_a_repeated_event_id_is_applied_once(settings: Settings) -> None:
    seen: list[str] = []
    service = recording_service(settings, seen)
    async with service.app(), TopicReader(settings, Topic.TICKET_EVENTS) as reader:
        for event_id in ("e-1", "e-1", "e-2", "e-1"):
            await service.bus.publish(reopened(event_id))
        await reader.take(4)
        await _wait_until(lambda: "e-2" in seen)
        await reader.settle(1.0)
    assert seen == ["e-1", "e-2"]


async def test_one_consumer_reads_every_topic_of_its_service(settings: Settings) -> None:
    from shared.events.routing import TicketQueued

    seen: list[str] = []
    service = Service.create("reader", settings)
    service.bus.declare_publishes(Topic.TICKET_EVENTS, Topic.ROUTING_EVENTS)
    events: Any = envelope_schema(Topic.TICKET_EVENTS, Topic.ROUTING_EVENTS)

    @service.bus.subscriber(Topic.TICKET_EVENTS, Topic.ROUTING_EVENTS)
    async def on_event(event: events) -> None:
        seen.append(event.type)

    queued = TicketQueued(
        ticket_id="1001", skills=["tech"], tier=1, reason="no agent", at=datetime.now(UTC)
    )
    async with service.app():
        await service.bus.publish(reopened("e-1"))
        await service.bus.publish(new_event(queued, id="q-1", source="kefu/t", correlationid="c"))
        await _wait_until(lambda: len(seen) == 2)
    assert sorted(seen) == ["kefu.ticket.queued", "kefu.ticket.reopened"]


async def test_unknown_types_are_skipped_and_oversized_bodies_dead_lettered(backend) -> None:
    from shared.admin import create_topics
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
        await _wait_until(lambda: "e-ok" in seen)
    assert seen == ["e-ok"]
    assert "exceeds KEFU_MAX_BODY_BYTES" in letters[0]["data"]["error"]


async def _wait_until(condition, wait_s: float = 15) -> None:
    import asyncio

    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    while not condition() and loop.time() < deadline:
        await asyncio.sleep(0.05)
    assert condition()

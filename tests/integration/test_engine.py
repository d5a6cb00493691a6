"""The batch consumer and the decision unit against the real broker and store: poison in the
middle of a batch, a bug that trips on one input, a store outage in the middle of a batch,
and two replicas racing on one key."""

import asyncio
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel

from kefu.shared.consumer import Input, Record, Rejected
from kefu.shared.decisions import DecisionUnit, StateCollection
from kefu.shared.errors import PoisonMessage
from kefu.shared.events import decode_event, new_event
from kefu.shared.events.schema import envelope_schema
from kefu.shared.events.ticket import Reopened
from kefu.shared.service import Service
from kefu.shared.settings import Settings
from kefu.shared.topics import Topic
from tests.conftest import Backend, isolated_settings
from tests.faults import CuttableProxy
from tests.kafka import TopicReader, produce
from tests.waiting import wait_until

TicketEvents: Any = envelope_schema(Topic.TICKET_EVENTS)


class Tally(BaseModel):
    inputs: list[str] = []


def reopened(event_id: str, ticket_id: str = "1001") -> Any:
    data = Reopened(ticket_id=ticket_id, by="customer", at=datetime.now(UTC))
    return new_event(data, id=event_id, source="kefu/test", correlationid=event_id)


def tally(state: Tally | None, event: Any, now: datetime) -> tuple[Tally, list[Any]]:
    """Every input once on its ticket's tally, and one event of its own on routing.events."""
    if event.id.startswith("poison"):
        raise PoisonMessage(f"{event.id} breaks a rule")
    if event.id.startswith("bug"):
        raise KeyError("a bug that only this input trips")
    if event.id.startswith("after-") and event.id[6:] not in (state.inputs if state else []):
        raise PoisonMessage(f"{event.id} came before {event.id[6:]}")
    from kefu.shared.events.routing import TicketQueued

    queued = TicketQueued(ticket_id=event.data.ticket_id, skills=[], tier=1, reason="test", at=now)
    out = new_event(queued, id=f"tally:{event.id}", source="kefu/tally", correlationid=event.id)
    return Tally(inputs=[*(state.inputs if state else []), event.id]), [out]


def tally_service(settings: Settings, owned: bool = True) -> tuple[Service, StateCollection[Tally]]:
    service = Service.create("tally", settings)
    service.bus.declare_publishes(Topic.ROUTING_EVENTS)
    states = service.states("tickets", Tally, owned=owned)
    unit = DecisionUnit(
        states,
        service.bus.publish,
        key=lambda event: event.data.ticket_id,
        input_id=lambda event: event.id,
        decide=tally,
    )

    def decode(record: Record) -> Any:
        return decode_event(record.value)

    async def handle(inputs: list[Input[Any]]) -> list[Rejected]:
        return await unit.handle(inputs)

    service.bus.consume(
        Topic.TICKET_EVENTS, decode=decode, handle=handle, schema=TicketEvents, description="t"
    )
    return service, states


async def tallies(states: StateCollection[Tally], *tickets: str) -> dict[str, list[str]]:
    slots = await states.load(tickets)
    return {key: slot.state.inputs if slot.state else [] for key, slot in slots.items()}


def values(*events: Any) -> list[Any]:
    """What to produce: raw bytes and dicts as they are, events as their JSON."""
    return [e.model_dump(mode="json") if hasattr(e, "model_dump") else e for e in events]


async def test_poison_in_the_middle_of_a_batch_goes_to_the_dlq_and_the_rest_is_committed(
    settings: Settings,
) -> None:
    batch = values(
        reopened("e-1"),
        b"{not json",
        reopened("poison-1"),
        {**reopened("e-x").model_dump(mode="json"), "type": "kefu.ticket.teleported"},
        reopened("e-2"),
        reopened("e-1"),  # a repeat
        reopened("e-3", ticket_id="1002"),
    )
    await produce(settings, Topic.TICKET_EVENTS, *batch, key="one-partition")
    service, states = tally_service(settings)
    async with service.app(), TopicReader(settings, Topic.DLQ, Topic.ROUTING_EVENTS) as reader:
        letters = await reader.take(2, lambda e: e["type"] == "kefu.dlq.message")
        await wait_until(lambda: len(reader.seen) >= 5)
        tallied = await tallies(states, "1001", "1002")
        published = [e["id"] for e in await reader.settle(1.0) if e["type"] == "kefu.ticket.queued"]
    assert tallied == {"1001": ["e-1", "e-2"], "1002": ["e-3"]}
    reasons = sorted(letter["data"]["error"] for letter in letters)
    assert reasons[0].startswith("not UTF-8 JSON") and reasons[1] == "poison-1 breaks a rule"
    assert [letter["data"]["offset"] for letter in letters] == [1, 2]
    assert sorted(published) == ["tally:e-1", "tally:e-2", "tally:e-3"]

    again, states = tally_service(settings)  # committed: a restart reads nothing again
    async with again.app():
        await produce(settings, Topic.TICKET_EVENTS, *values(reopened("e-4")), key="one-partition")
        await wait_until_tallied(states, "1001", 3)
        assert await tallies(states, "1001") == {"1001": ["e-1", "e-2", "e-4"]}


async def test_a_bug_that_one_input_trips_dead_letters_that_input_alone(
    settings: Settings,
) -> None:
    batch = values(reopened("e-1"), reopened("bug-1"), reopened("e-2"))
    await produce(settings, Topic.TICKET_EVENTS, *batch, key="one-partition")
    service, states = tally_service(settings)
    async with service.app(), TopicReader(settings, Topic.DLQ) as reader:
        [letter] = await reader.take(1, wait_s=30)
        await wait_until_tallied(states, "1001", 2)
        assert await tallies(states, "1001") == {"1001": ["e-1", "e-2"]}
    assert letter["data"]["error"].startswith("unhandled error: KeyError")
    assert letter["data"]["offset"] == 1


async def test_a_store_outage_in_the_middle_of_a_batch_loses_and_doubles_nothing(
    backend: Backend,
) -> None:
    store = urlsplit(backend.mongodb_url)
    proxy = await CuttableProxy(store.hostname, store.port).start()
    through_proxy = store._replace(
        netloc=store.netloc.replace(f"{store.hostname}:{store.port}", f"127.0.0.1:{proxy.port}")
    )
    settings = isolated_settings(backend, mongodb_url=through_proxy.geturl())
    from kefu.shared.admin import create_topics

    await create_topics(settings, 3)
    tickets = [str(2000 + n) for n in range(40)]
    events = [reopened(f"e-{t}-{i}", ticket_id=t) for i in range(5) for t in tickets]
    service, states = tally_service(settings)
    async with service.app(), TopicReader(settings, Topic.ROUTING_EVENTS) as reader:
        sending = asyncio.create_task(produce_each(settings, events))
        await reader.take(20, wait_s=30)
        await proxy.cut()  # the store is gone while batches are in flight
        await asyncio.sleep(3)
        await proxy.restore()
        await sending
        await reader.take(len(events), wait_s=60)
        published = await reader.settle(1.5)
        by_ticket = await tallies(states, *tickets)
    for ticket in tickets:
        assert by_ticket[ticket] == [f"e-{ticket}-{i}" for i in range(5)], ticket
    by_id: dict[str, Any] = {}
    for event in published:
        assert by_id.setdefault(event["id"], event) == event, "an id carried different data"
    assert len(by_id) == len(events)


async def test_two_replicas_racing_on_one_key_apply_each_input_once(settings: Settings) -> None:
    """The same events under different Kafka keys reach both replicas at once; both decide on
    ticket 1001's document and every input ends on it exactly once."""
    first, states = tally_service(settings)
    second, _ = tally_service(settings)
    events = [reopened(f"e-{n}") for n in range(60)]
    async with first.app(), second.app(), TopicReader(settings, Topic.ROUTING_EVENTS) as reader:
        await asyncio.sleep(3)  # both replicas are members of the group
        for copy in range(3):
            for event in events:
                await produce(
                    settings, Topic.TICKET_EVENTS, *values(event), key=f"{copy}{event.id}"
                )
        await wait_until_tallied(states, "1001", len(events), wait_s=60)
        published = await reader.settle(2.0)
        inputs = (await tallies(states, "1001"))["1001"]
    assert sorted(inputs) == sorted(event.id for event in events)
    by_id: dict[str, Any] = {}
    for event in published:
        assert by_id.setdefault(event["id"], event) == event, "an id carried different data"
    assert len(by_id) == len(events)


async def test_a_replica_deciding_on_the_state_it_kept_loses_to_a_newer_write(
    settings: Settings,
) -> None:
    """Each replica keeps the slots it wrote; when the other wrote since, the kept slot's
    write loses and the input is decided on the store's state, and a refusal made on a kept
    slot is made again on the store's state before it stands."""
    states = Service.create("tally", settings).states("tickets", Tally, owned=True)
    sent: list[str] = []

    async def publish(*events: Any) -> None:
        sent.extend(event.id for event in events)

    first, second = (
        DecisionUnit(
            states, publish, key=lambda e: e.data.ticket_id, input_id=lambda e: e.id, decide=tally
        )
        for _ in range(2)
    )
    assert await first.apply([reopened("e-1")]) == []
    assert await second.apply([reopened("e-2")]) == []  # first's kept slot is now stale
    assert await first.apply([reopened("after-e-2")]) == []  # refused on first's kept slot
    assert await second.apply([reopened("e-3")]) == []  # second's kept slot loses its write
    assert (await tallies(states, "1001"))["1001"] == ["e-1", "e-2", "after-e-2", "e-3"]
    refused = await first.apply([reopened("after-e-9")])  # refused on the store's state too
    assert [(index, str(why)) for index, why in refused] == [(0, "after-e-9 came before e-9")]
    assert set(sent) == {f"tally:{id}" for id in ("e-1", "e-2", "after-e-2", "e-3")}
    await first.apply([reopened("e-4")], at_once=True)  # a timer's: marked in the store now
    await states.marked()
    assert await published_as_another_reads(settings, "1001") == {5}


async def test_a_replica_writes_its_marks_before_its_partitions_go_to_another(
    settings: Settings,
) -> None:
    """That events are published is kept in memory until a write carries it; when another
    replica joins, the first writes it before handing its partitions over."""
    first, states = tally_service(settings)
    tickets = [str(n) for n in range(1001, 1013)]
    async with first.app():
        await produce_each(settings, [reopened(f"e-{t}", ticket_id=t) for t in tickets])
        for ticket in tickets:
            await wait_until_tallied(states, ticket, 1)
        await asyncio.sleep(0.5)  # the batch's events acknowledged and kept as published
        assert await published_as_another_reads(settings, *tickets) == {0}
        second, _ = tally_service(settings)
        async with second.app():
            for _ in range(300):  # the group rebalances within seconds
                if await published_as_another_reads(settings, *tickets) == {1}:
                    break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("the marks were not written at the hand-over")
        marks = await states.marks.find({}).to_list() if states.marks is not None else []
        assert [mark["_id"] for mark in marks] == [f"tally_tickets:{states.process}"]
        stored = states.collection.find({"_id": {"$in": tickets}})
        assert {document["published"] async for document in stored} == {0}  # none written


async def test_a_collection_every_replica_writes_keeps_its_marks_while_its_replica_is_alone(
    settings: Settings,
) -> None:
    """Documents that any replica may write (intake's tickets) are marked as soon as their
    events are published, except while one replica holds every partition: then no other
    writes them, and the marks wait for the next write as an owned collection's do. When a
    second replica joins, the first writes them before the hand-over, and from then on each
    replica marks at once."""
    first, states = tally_service(settings, owned=False)
    tickets = [str(n) for n in range(1001, 1013)]

    async def published(marks: set[int], wait_s: float = 30) -> bool:
        for _ in range(int(wait_s * 10)):
            if await published_as_another_reads(settings, *tickets) == marks:
                return True
            await asyncio.sleep(0.1)
        return False

    async with first.app():
        await produce_each(settings, [reopened(f"e-{t}", ticket_id=t) for t in tickets])
        for ticket in tickets:
            await wait_until_tallied(states, ticket, 1)
        await asyncio.sleep(0.5)  # the batch's events acknowledged and kept as published
        assert first.bus.holds_every_partition
        assert await published({0}, wait_s=0.1)
        second, _ = tally_service(settings, owned=False)
        async with second.app():
            assert await published({1}), "the marks were not written at the hand-over"
            await wait_until(lambda: not first.bus.holds_every_partition, wait_s=30)
            await produce_each(settings, [reopened(f"f-{t}", ticket_id=t) for t in tickets])
            for ticket in tickets:
                await wait_until_tallied(states, ticket, 2)
            assert await published({2}, wait_s=10), "not marked at once by two replicas"


async def test_a_save_is_marked_whole_only_when_every_one_of_its_documents_is_published(
    settings: Settings,
) -> None:
    """A batch's documents are marked by one write of their save's number, but only once the
    events of all of them are published: a retry that publishes some (a split batch) marks
    those documents one by one, and the rest stay unpublished for any other reader."""
    states = Service.create("tally", settings).states("tickets", Tally, owned=True)
    slots = await states.load(["2001", "2002"])
    for key, slot in slots.items():
        slot.record(f"e-{key}", Tally(inputs=[f"e-{key}"]), [reopened(f"x-{key}", key)])
    assert await states.save(slots.values()) == set()
    await states.mark_published([slots["2001"]])
    await states.flush()
    assert await published_as_another_reads(settings, "2001") == {1}  # marked on its own
    assert await published_as_another_reads(settings, "2002") == {0}
    stored = await states.collection.find_one({"_id": "2001"})
    assert stored is not None and stored["published"] == 1
    await states.mark_published([slots["2002"]])
    await states.flush()
    assert await published_as_another_reads(settings, "2002") == {1}  # the save, whole
    stored = await states.collection.find_one({"_id": "2002"})
    assert stored is not None and stored["published"] == 0


async def published_as_another_reads(settings: Settings, *tickets: str) -> set[int]:
    """The versions up to which a process that did not write the tickets' documents takes
    their events as published."""
    reader = Service.create("tally", settings).states("tickets", Tally)
    return {slot.published for slot in (await reader.load(tickets)).values()}


async def produce_each(settings: Settings, events: list[Any]) -> None:
    for event in events:
        await produce(settings, Topic.TICKET_EVENTS, *values(event), key=event.data.ticket_id)


async def wait_until_tallied(
    states: StateCollection[Tally], ticket: str, count: int, wait_s: float = 30
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    while len((await tallies(states, ticket))[ticket]) < count and loop.time() < deadline:
        await asyncio.sleep(0.1)
    assert len((await tallies(states, ticket))[ticket]) >= count

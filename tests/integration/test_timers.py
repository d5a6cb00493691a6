"""Durable timers on the real store: armed, claimed once between replicas, leased, done,
re-armed while firing, and a scheduler that sleeps until the next one; the same for timers
held by state documents."""

import asyncio
from datetime import UTC, datetime, timedelta
from unittest.mock import ANY

import pytest
from pydantic import BaseModel

from kefu.shared.decisions import StateCollection
from kefu.shared.store import connect, database, ensure_indexes
from kefu.shared.timers import Due, Timers, now_ms, to_ms


@pytest.fixture
async def timers(settings):
    client = connect(settings)
    db = database(client, settings)
    await ensure_indexes(db, Timers.indexes("timers"))
    yield Timers(db.timers, lease_s=1.0, recheck_s=0.5)
    await client.drop_database(settings.mongodb_db)
    await client.close()


def ago(seconds: float) -> datetime:
    return datetime.now(UTC) - timedelta(seconds=seconds)


async def test_only_due_timers_are_claimed_earliest_first(timers) -> None:
    await timers.arm({"late": ago(1), "later": ago(-60), "early": ago(2)})
    claimed = await timers.claim()
    assert [due.key for due in claimed] == ["early", "late"]
    assert await timers.claim() == []  # leased now


async def test_two_schedulers_never_claim_one_timer_twice(timers) -> None:
    await timers.arm({f"t{n}": ago(1) for n in range(300)})
    other = Timers(timers.collection, lease_s=1.0, batch=120)
    keys: list[str] = []
    while claims := [c for c in await asyncio.gather(timers.claim(), other.claim()) if c]:
        keys += [due.key for claim in claims for due in claim]
    assert len(keys) == len(set(keys)) == 300


async def test_a_lease_expires_and_another_takes_the_timer(timers) -> None:
    await timers.arm({"a": ago(1)})
    [first] = await timers.claim()
    assert await timers.claim() == []
    await asyncio.sleep(1.1)
    [again] = await timers.claim()
    assert again == first


async def test_done_keeps_a_timer_re_armed_while_it_fired(timers) -> None:
    await timers.arm({"a": ago(1), "b": ago(1)})
    fired = await timers.claim()
    later = ago(-30)
    await timers.arm({"a": later})
    await timers.done(fired)
    remaining = [d async for d in timers.collection.find({})]
    assert [(d["_id"], d["due"]) for d in remaining] == [("a", int(later.timestamp() * 1000))]
    assert remaining[0]["at"] == remaining[0]["due"]  # armed again, not leased


async def test_arming_the_same_due_time_again_changes_nothing(timers) -> None:
    due = ago(1)
    await timers.arm({"a": due})
    [claimed] = await timers.claim()
    await timers.arm({"a": due})  # a replay: still leased, not fired twice
    assert await timers.claim() == []
    await timers.arm({"a": None})
    assert await timers.collection.count_documents({}) == 0
    await timers.done([claimed])


async def test_the_scheduler_fires_on_time_and_wakes_for_an_earlier_timer(timers) -> None:
    fired: list[tuple[Due, float]] = []

    async def fire(due: list[Due]) -> None:
        fired.extend((one, now_ms() / 1000) for one in due)

    await timers.arm({"far": ago(-600)})
    running = asyncio.create_task(timers.run(fire))
    try:
        await asyncio.sleep(0.2)
        soon = ago(-0.5)
        await timers.arm({"soon": soon})
        while not fired:
            await asyncio.sleep(0.05)
        [(due, at)] = fired
        assert due.key == "soon"
        assert 0 <= at - soon.timestamp() < 0.3
        await asyncio.sleep(0.2)
        assert await timers.collection.count_documents({"_id": "soon"}) == 0
    finally:
        running.cancel()


class Waiting(BaseModel):
    wake_at: datetime | None = None


@pytest.fixture
async def held(settings):
    """Timers held by state documents: a state collection whose writes carry them."""
    client = connect(settings)
    db = database(client, settings)
    await ensure_indexes(db, Timers.indexes("states"))
    states = StateCollection(db.states, Waiting, keys=lambda s: Timers.fields(s.wake_at))
    yield states, Timers(db.states, lease_s=1.0, recheck_s=0.5, held=True)
    await client.drop_database(settings.mongodb_db)
    await client.close()


async def write(states: StateCollection, **wakes: datetime | None) -> None:
    slots = await states.load(wakes)
    for key, wake_at in wakes.items():
        slots[key].replace(Waiting(wake_at=wake_at))
    assert await states.save(slots.values()) == set()


async def test_a_held_timer_is_armed_by_its_states_write_and_cleared_when_done(held) -> None:
    states, timers = held
    await write(states, late=ago(1), later=ago(-60), never=None)
    [claimed] = await timers.claim()
    assert (claimed.key, claimed.gen) == ("late", 1)  # its generation: the document's version
    assert await timers.claim() == []  # leased
    await timers.done([claimed])
    await asyncio.sleep(1.1)  # past the lease: a timer done is not taken again
    assert await timers.claim() == []
    document = await states.collection.find_one({"_id": "late"})
    assert (document["at"], document["version"], document["state"]) == (None, 1, {"wake_at": ANY})


async def test_a_held_timer_rewritten_while_it_fired_keeps_its_new_due_time(held) -> None:
    states, timers = held
    await write(states, a=ago(1))
    [claimed] = await timers.claim()
    await write(states, a=ago(0.2))  # the fire's decision: what comes next
    await timers.done([claimed])
    [again] = await timers.claim()
    assert (again.key, again.gen) == ("a", 2)


async def test_the_scheduler_sleeps_until_the_earliest_held_timer(held) -> None:
    states, timers = held
    await write(states, none=None, far=ago(-600))
    fired: list[float] = []

    async def fire(due: list[Due]) -> None:
        fired.extend(now_ms() / 1000 for _ in due)

    running = asyncio.create_task(timers.run(fire))
    try:
        soon = ago(-0.5)
        await write(states, soon=soon)
        timers.wake_for(soon)
        while not fired:
            await asyncio.sleep(0.05)
        assert 0 <= fired[0] - soon.timestamp() < 0.3
        await asyncio.sleep(0.2)
        far = await states.collection.find_one({"_id": "far"})
        wake_at = Waiting.model_validate(far["state"]).wake_at
        assert await timers.next_at() == far["at"] == to_ms(wake_at)
    finally:
        running.cancel()


async def test_held_timers_cannot_be_armed_on_their_own(held) -> None:
    _, timers = held
    with pytest.raises(TypeError):
        await timers.arm({"a": ago(1)})

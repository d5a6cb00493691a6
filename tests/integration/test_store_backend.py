"""Pins every MongoDB operation kefu relies on, on whichever backend runs the tests
(nx-27017 embedded; real MongoDB with KEFU_TEST_BACKEND=containers or external)."""

import asyncio
import os
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import BaseModel
from pymongo import IndexModel, ReplaceOne, ReturnDocument, UpdateOne
from pymongo.errors import BulkWriteError

from kefu.shared.decisions import WRITE_SLICE, Slot, StateCollection
from kefu.shared.store import by_ids, connect, database, ensure_indexes
from kefu.shared.timers import from_ms, to_ms
from tests.factories import held

AT = datetime(2026, 11, 23, 10, 0, 0, 123000, tzinfo=UTC)


class Stamp(BaseModel):
    at: datetime
    flag: bool
    ids: list[str]
    first: str
    note: str | None = None


@pytest.fixture
async def db(settings):
    client = connect(settings)
    yield database(client, settings)
    await client.drop_database(settings.mongodb_db)
    await client.close()


async def test_by_ids_reads_ids_and_equalities_and_nothing_for_no_ids(db) -> None:
    await db.notes.insert_many([{"_id": "a", "s": "p"}, {"_id": "b", "s": "q"}, {"_id": "c"}])
    assert await by_ids(db.notes, ["a", "b", "a", "z"], {"_id": 1}) == {
        "a": {"_id": "a"},
        "b": {"_id": "b"},
    }
    assert list(await by_ids(db.notes, iter(["a", "b"]), s="q")) == ["b"]
    assert await by_ids(db.notes, []) == {}


async def test_unordered_insert_many_reports_each_duplicate_by_index(db) -> None:
    await db.things.insert_one({"_id": "b"})
    with pytest.raises(BulkWriteError) as caught:
        await db.things.insert_many([{"_id": "a"}, {"_id": "b"}, {"_id": "c"}], ordered=False)
    assert [(e["index"], e["code"]) for e in caught.value.details["writeErrors"]] == [(1, 11000)]
    assert {d["_id"] async for d in db.things.find({})} == {"a", "b", "c"}


async def test_a_unique_index_on_a_nested_field_refuses_the_second_insert(db) -> None:
    await ensure_indexes(db, {"things": [IndexModel("state.first", unique=True)]})
    await db.things.insert_one({"_id": "1", "state": {"first": "r1"}})
    with pytest.raises(BulkWriteError) as caught:
        await db.things.insert_many(
            [{"_id": "2", "state": {"first": "r1"}}, {"_id": "3", "state": {"first": "r3"}}],
            ordered=False,
        )
    assert [e["index"] for e in caught.value.details["writeErrors"]] == [0]
    found = db.things.find({"state.first": {"$in": ["r1", "r3"]}})
    assert sorted([d["_id"] async for d in found]) == ["1", "3"]


async def test_bulk_replace_filtered_on_version_is_a_compare_and_swap_per_document(db) -> None:
    await db.things.insert_many([{"_id": k, "version": 1, "at": AT} for k in ("a", "b", "c")])
    result = await db.things.bulk_write(
        [
            ReplaceOne({"_id": "a", "version": 1}, {"version": 2, "at": AT + timedelta(seconds=1)}),
            ReplaceOne({"_id": "b", "version": 7}, {"version": 8, "at": AT}),
            ReplaceOne({"_id": "c", "version": 1}, {"version": 2, "at": AT}),
        ],
        ordered=False,
    )
    assert result.matched_count == 2
    stored = {d["_id"]: d async for d in db.things.find({"_id": {"$in": ["a", "b", "c", "x"]}})}
    assert [stored[k]["version"] for k in ("a", "b", "c")] == [2, 1, 2]
    assert stored["a"]["at"] == AT + timedelta(seconds=1)
    assert isinstance(stored["a"]["at"], datetime)  # a replace keeps datetimes as dates


async def test_update_with_set_and_upsert_on_id_creates_or_overwrites(db) -> None:
    """What thread-key pointers use. (ReplaceOne with upsert is not used: nx-27017 inserts a
    document without the `_id` instead.)"""
    await db.keys.bulk_write(
        [
            UpdateOne({"_id": "k"}, {"$set": {"ticket_id": "1"}}, upsert=True),
            UpdateOne({"_id": "k"}, {"$set": {"ticket_id": "2"}}, upsert=True),
            UpdateOne({"_id": "j"}, {"$set": {"ticket_id": "3"}}, upsert=True),
        ],
        ordered=False,
    )
    assert [d async for d in db.keys.find({}).sort("_id", 1)] == [
        {"_id": "j", "ticket_id": "3"},
        {"_id": "k", "ticket_id": "2"},
    ]


async def test_update_filtered_on_version_sets_an_int_only_if_still_there(db) -> None:
    await db.things.insert_one({"_id": "a", "version": 2, "published": 0})
    result = await db.things.bulk_write(
        [
            UpdateOne({"_id": "a", "version": 2}, {"$set": {"published": 2}}),
            UpdateOne({"_id": "a", "version": 1}, {"$set": {"published": 1}}),
        ]
    )
    assert result.matched_count == 1
    assert (await db.things.find_one({"_id": "a"}))["published"] == 2


async def test_an_update_filtered_on_a_status_moves_it_once(db) -> None:
    """notify hands a mail over by moving it from pending: a second replica finds nothing."""
    await db.things.insert_one({"_id": "n", "status": "pending"})
    first, second = [
        await db.things.update_one(
            {"_id": "n", "status": "pending"}, {"$set": {"status": "sending", "by": by}}
        )
        for by in ("a", "b")
    ]
    assert (first.modified_count, second.modified_count) == (1, 0)
    assert (await db.things.find_one({"_id": "n"}))["by"] == "a"


async def test_an_indexed_nested_field_sorts_limits_and_compares_as_text(db) -> None:
    """The router's queue: waiting tickets in rank order, and relax times compared as text."""
    await ensure_indexes(db, {"q": [IndexModel([("state.status", 1), ("state.rank", 1)])]})
    rows = [
        ("a", "waiting", "2|P3", "2026-11-23T10:05:00.000Z"),
        ("b", "waiting", "0|P4", None),
        ("c", "done", "0|P1", "2026-11-23T10:00:00.000Z"),
        ("d", "waiting", "1|P1", "2026-11-23T10:01:00.000Z"),
    ]
    await db.q.insert_many(
        [{"_id": k, "state": {"status": st, "rank": r, "wake_at": at}} for k, st, r, at in rows]
    )
    waiting = db.q.find({"state.status": "waiting"}, sort=[("state.rank", 1)], limit=2)
    assert [d["_id"] async for d in waiting] == ["b", "d"]
    due = db.q.find(
        {"state.status": "waiting", "state.wake_at": {"$lte": "2026-11-23T10:02:00.000Z"}}
    )
    assert [d["_id"] async for d in due] == ["d"]
    first = await db.q.find_one(
        {"state.status": "waiting", "state.wake_at": {"$gt": ""}}, sort=[("state.wake_at", 1)]
    )
    assert first["_id"] == "d"  # null wake_at is not a time


async def test_equality_on_an_indexed_nested_scalar_matches_that_value_only(db) -> None:
    """The workspace's desk and conversations: equality on a single-field index (a nested
    `state.desk`, a top-level `ticket_id`) matches the value, never a null, a missing field
    or a longer text; and `$in` on `_id` finds the documents there are."""
    await ensure_indexes(
        db, {"reads": [IndexModel("state.desk")], "entries": [IndexModel("ticket_id")]}
    )
    desks = [("1", "ann"), ("2", None), ("3", "annie"), ("4", "ann"), ("5", "Ann")]
    await db.reads.insert_many(
        [{"_id": k, "state": {"desk": d}} for k, d in desks] + [{"_id": "6", "state": {}}]
    )
    found = db.reads.find({"state.desk": "ann"}, {"state": 1}, limit=500)
    assert sorted([d["_id"] async for d in found]) == ["1", "4"]
    assert [d async for d in db.reads.find({"state.desk": "bob"})] == []
    await db.entries.insert_many(
        [{"_id": f"e{n}", "ticket_id": t} for n, t in enumerate(["t1", "t2", "t1", "t10"])]
    )
    assert sorted([d["_id"] async for d in db.entries.find({"ticket_id": "t1"})]) == ["e0", "e2"]
    by_id = db.reads.find({"_id": {"$in": ["4", "1", "none"]}}, {"state": 1})
    assert sorted([d["_id"] async for d in by_id]) == ["1", "4"]


async def test_a_range_on_an_indexed_nested_text_sorted_by_it_is_limited(db) -> None:
    """The queue (ranks above "", in order) and a customer's history (the keys between a
    prefix and the prefix followed by "~", newest first): a range on a single-field index,
    sorted by that same field and limited, never matches a null or a missing field, and
    compares text code point by code point (a customer's name may be any text)."""
    await ensure_indexes(db, {"ranges": [IndexModel("state.rank"), IndexModel("state.key")]})
    keys = {
        "a1": "4:id:a|2026-11-23T10:00:00.000Z|a1",
        "a2": "4:id:a|2026-11-23T10:00:01.000Z|a2",
        "a3": "4:id:a|2026-11-23T11:00:00.000Z|a3",
        "a|2": "6:id:a|2|2026-11-23T12:00:00.000Z|a|2",  # starts with "id:a|" too
        "ab": "5:id:ab|2026-11-23T12:00:00.000Z|ab",
        "zh1": "6:id:客户|2026-11-23T10:00:00.000Z|zh1",
        "zh2": "6:id:客户|2026-11-24T10:00:00.000Z|zh2",
        "zh3": "6:id:客户a|2026-11-24T10:00:00.000Z|zh3",
        "none": None,
    }
    ranks = {"a1": "2|P3|x", "a2": "0|P4|x", "a3": None, "ab": "1|P1|x", "zh1": "2|P1|x"}
    await db.ranges.insert_many(
        [{"_id": k, "state": {"key": v, "rank": ranks.get(k)}} for k, v in keys.items()]
        + [{"_id": "bare", "state": {}}]
    )

    async def history(prefix: str, limit: int) -> list[str]:
        found = db.ranges.find(
            {"state.key": {"$gt": prefix, "$lt": f"{prefix}~"}},
            {"state": 1},
            sort=[("state.key", -1)],
            limit=limit,
        )
        return [d["_id"] async for d in found]

    assert await history("4:id:a|", 21) == ["a3", "a2", "a1"]
    assert await history("4:id:a|", 2) == ["a3", "a2"]
    assert await history("6:id:客户|", 21) == ["zh2", "zh1"]
    assert await history("3:id:|", 21) == []
    queue = db.ranges.find({"state.rank": {"$gt": ""}}, sort=[("state.rank", 1)], limit=3)
    assert [d["_id"] async for d in queue] == ["a2", "ab", "zh1"]


async def test_a_counter_reserves_blocks_atomically_from_nothing(db) -> None:
    values = [
        (
            await db.counters.find_one_and_update(
                {"_id": "c"},
                {"$inc": {"seq": 64}},
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
        )["seq"]
        for _ in range(3)
    ]
    assert values == [64, 128, 192]


async def test_expiry_is_a_delete_on_an_indexed_time(db) -> None:
    await ensure_indexes(db, {"expiring": [IndexModel("expires_at")]})
    old, new = AT - timedelta(days=1), AT + timedelta(days=1)
    await db.expiring.insert_many([{"_id": 1, "expires_at": old}, {"_id": 2, "expires_at": new}])
    deleted = await db.expiring.delete_many({"expires_at": {"$lt": AT}})
    assert deleted.deleted_count == 1
    assert [d["_id"] async for d in db.expiring.find({})] == [2]


async def test_state_collection_round_trip_and_lost_writers(db) -> None:
    """The unit's own operations: load, save (insert and replace), lose, mark published."""
    states = StateCollection(db.states, Stamp)
    await ensure_indexes(db, {"states": [IndexModel("state.first", unique=True)]})
    first = Slot("s1")
    first.record("in-1", Stamp(at=AT, flag=True, ids=["x"], first="r1"), [])
    assert await states.save([first]) == set() and first.version == 1

    mine, theirs = (await states.load(["s1"]))["s1"], (await states.load(["s1"]))["s1"]
    assert mine.state == Stamp(at=AT, flag=True, ids=["x"], first="r1")
    mine.record("in-2", mine.state.model_copy(update={"flag": False}), [])
    theirs.record("in-3", theirs.state.model_copy(update={"ids": ["y"]}), [])
    assert await states.save([mine]) == set()
    assert await states.save([theirs]) == {"s1"}  # it read version 1; the document is at 2

    copy = Slot("s2")
    copy.record("in-4", Stamp(at=AT, flag=True, ids=[], first="r1"), [])
    assert await states.save([copy]) == {"s2"}  # the unique index refuses a second opener
    stored = (await states.load_by("first", ["r1"]))["r1"]
    assert stored.key == "s1" and stored.version == 2 and stored.applied == ["in-1", "in-2"]
    assert (await states.load(["nothing"]))["nothing"].version == 0


async def test_a_save_bigger_than_a_slice_is_written_in_several_commands(db) -> None:
    """The store serves one command at a time: a save of more documents than WRITE_SLICE
    goes in several, and a document another writer took in any of them is lost alone."""
    commands: list[int] = []

    class Counted:
        def __getattr__(self, name: str) -> Any:
            return getattr(db.states, name)

        async def insert_many(self, documents: list[Any], **options: Any) -> Any:
            commands.append(len(documents))
            return await db.states.insert_many(documents, **options)

        async def bulk_write(self, writes: list[Any], **options: Any) -> Any:
            commands.append(len(writes))
            return await db.states.bulk_write(writes, **options)

    states = StateCollection(Counted(), Stamp)
    count = WRITE_SLICE * 2 + 7
    slots = [Slot(f"s{n}") for n in range(count)]
    for n, slot in enumerate(slots):
        slot.record("in-1", Stamp(at=AT, flag=True, ids=[], first=f"r{n}"), [])
    assert await states.save(slots) == set()
    assert commands == [WRITE_SLICE, WRITE_SLICE, 7]

    taken = f"s{WRITE_SLICE + 3}"
    await db.states.update_one({"_id": taken}, {"$inc": {"version": 1}})
    for slot in slots:
        slot.record("in-2", slot.state.model_copy(update={"flag": False}), [])
    commands.clear()
    assert await states.save(slots) == {taken}
    assert commands[:3] == [WRITE_SLICE, WRITE_SLICE, 7]
    assert await db.states.count_documents({"state.flag": False}) == count - 1


async def test_a_state_keeps_its_times_as_text_and_reads_them_back_exactly(db) -> None:
    """State documents hold JSON values, times as text, and the stored text is what is read
    back: no backend takes it for a date."""
    states = StateCollection(db.states, Stamp)
    slot, at = Slot("s1"), AT + timedelta(microseconds=456)
    slot.record("in-1", Stamp(at=at, flag=True, ids=[], first="r1"), [])
    await states.save([slot])
    stored = await db.states.find_one({"_id": "s1"})
    assert stored["state"]["at"] == "2026-11-23T10:00:00.123456Z"
    assert (await states.load(["s1"]))["s1"].state.at == at


async def test_a_state_leaves_out_what_it_does_not_have_and_reads_it_back_as_none(db) -> None:
    """Fields that are None are not written (the store encodes, copies and decodes every
    value it is given: an analytics ticket's eighteen empty fields cost an eighth of its
    write); a document that still holds them reads the same."""
    states = StateCollection(db.states, Stamp)
    slot = Slot("s1")
    slot.record("in-1", Stamp(at=AT, flag=True, ids=[], first="r1"), [])
    await states.save([slot])
    stored = await db.states.find_one({"_id": "s1"})
    assert "note" not in stored["state"] and stored["state"]["ids"] == []
    await db.states.update_one({"_id": "s1"}, {"$set": {"state.note": None}})
    assert (await states.load(["s1"]))["s1"].state == slot.state


async def test_published_marks_ride_on_the_next_write_or_are_flushed(db) -> None:
    from kefu.shared.events import new_event
    from kefu.shared.events.ticket import Reopened

    states = StateCollection(db.states, Stamp, owned=True)
    elsewhere = StateCollection(db.states, Stamp)

    def reopened(event_id: str) -> Any:
        data = Reopened(ticket_id="1", by="c", at=AT)
        return new_event(data, id=event_id, source="t", correlationid="c")

    slot = Slot("s1")
    slot.record("in-1", Stamp(at=AT, flag=True, ids=[], first="r1"), [reopened("e-1")])
    await states.save([slot])
    assert [e.id for e in slot.unpublished()] == ["e-1"]
    await states.mark_published([slot])  # kept in memory, not written yet
    reloaded = (await states.load(["s1"]))["s1"]
    assert reloaded.published == reloaded.version == 1 and reloaded.unpublished() == []
    assert [e.id for e in held(reloaded, "in-1")] == ["e-1"]
    other = (await elsewhere.load(["s1"]))["s1"]  # another process publishes it again
    assert [e.id for e in other.unpublished()] == ["e-1"]

    reloaded.record("in-2", reloaded.state, [reopened("e-2")])
    await states.save([reloaded])  # carries the mark
    assert (await db.states.find_one({"_id": "s1"}))["published"] == 1
    assert [e.id for e in (await elsewhere.load(["s1"]))["s1"].unpublished()] == ["e-2"]
    await states.mark_published([reloaded])
    await states.flush()
    assert (await elsewhere.load(["s1"]))["s1"].unpublished() == []

    other = (await elsewhere.load(["s1"]))["s1"]  # not owned: marked as soon as published
    other.record("in-3", other.state, [reopened("e-3")])
    await elsewhere.save([other])
    await elsewhere.mark_published([other])
    await elsewhere.marked()
    assert (await states.load(["s1"]))["s1"].unpublished() == []


async def test_no_collection_has_a_ttl_index(db, settings) -> None:
    """nx-27017 scans every query on a collection with a TTL index; kefu declares none."""
    from kefu.services.analytics.store import AnalyticsStore
    from kefu.services.intake.store import IntakeStore

    for indexes in (IntakeStore.indexes(), AnalyticsStore.indexes()):
        for models in indexes.values():
            assert not any("expireAfterSeconds" in model.document for model in models)


async def test_databases_do_not_share_collections(db, settings) -> None:
    client = connect(settings)
    other = client[f"{settings.mongodb_db}_other"]
    try:
        await db.things.insert_one({"_id": "mine"})
        assert await other.things.find_one({"_id": "mine"}) is None
    finally:
        await client.drop_database(other.name)
        await client.close()


async def test_a_conditional_update_many_takes_each_document_once(db) -> None:
    """The timers' claim: two claims racing on the same `_id`s each take a document at
    most once, and the second sees the first's change."""
    await db.timers.insert_many([{"_id": f"t{n}", "at": 100} for n in range(50)])
    ids = [f"t{n}" for n in range(50)]
    claims = [
        db.timers.update_many(
            {"_id": {"$in": ids}, "at": {"$lte": 100}}, {"$set": {"at": 200, "claim": token}}
        )
        for token in ("a", "b")
    ]
    results = await asyncio.gather(*claims)
    assert sum(result.modified_count for result in results) == 50
    owners = [d["claim"] async for d in db.timers.find({"_id": {"$in": ids}})]
    assert len(owners) == 50


async def test_an_upsert_with_set_and_inc_creates_then_counts(db) -> None:
    change = {"$set": {"due": 5, "at": 5}, "$inc": {"gen": 1}}
    await db.timers.bulk_write([UpdateOne({"_id": "k"}, change, upsert=True)])
    await db.timers.bulk_write([UpdateOne({"_id": "k"}, change, upsert=True)])
    assert await db.timers.find_one({"_id": "k"}) == {"_id": "k", "due": 5, "at": 5, "gen": 2}
    found = await db.timers.find_one({}, sort=[("at", 1)])
    assert found["_id"] == "k"


async def test_half_open_ranges_of_milliseconds_slice_a_read_and_ids_alone_count(db) -> None:
    """Analytics reads a window in time slices ($gte, $lt; the last open-ended) of a time
    in milliseconds beside the state, skipping documents without it, and counts through an
    indexed find of ids alone."""
    tickets = db["slices"]
    await tickets.create_indexes([IndexModel("updated_ms"), IndexModel("state.queued")])
    at = to_ms(AT)
    await tickets.insert_many(
        [
            {"_id": f"t{n}", "updated_ms": at + 1000 * n, "state": {"queued": n % 2}}
            for n in range(6)
        ]
        + [{"_id": "never", "updated_ms": None, "state": {}}]
    )
    middle = at + 3000
    slices = [{"$gte": at, "$lt": middle}, {"$gte": middle}]
    read = [
        [d["_id"] async for d in tickets.find({"updated_ms": bounds}, {"state": 1})]
        for bounds in slices
    ]
    assert [sorted(ids) for ids in read] == [["t0", "t1", "t2"], ["t3", "t4", "t5"]]
    queued = [d async for d in tickets.find({"state.queued": 1}, {"_id": 1})]
    assert sorted(queued, key=lambda d: d["_id"]) == [{"_id": "t1"}, {"_id": "t3"}, {"_id": "t5"}]


async def test_bulk_upserts_add_to_a_set_and_count_from_nothing(db) -> None:
    """The search index's directories and ticket lines: `$addToSet` with `$each` (and a
    top-level `$inc`) in one unordered `bulk_write` of upserts on `_id`; a value already
    there is not added again."""
    await db.dirs.bulk_write(
        [
            UpdateOne(
                {"_id": "a"},
                {"$addToSet": {"days": {"$each": ["d1", "d2"]}}, "$inc": {"n": 2}},
                upsert=True,
            ),
            UpdateOne(
                {"_id": "b"},
                {"$addToSet": {"days": {"$each": ["d1"]}}, "$inc": {"n": 1}},
                upsert=True,
            ),
        ],
        ordered=False,
    )
    await db.dirs.bulk_write(
        [
            UpdateOne(
                {"_id": "a"},
                {"$addToSet": {"days": {"$each": ["d2", "d3"]}}, "$inc": {"n": 1}},
                upsert=True,
            )
        ],
        ordered=False,
    )
    stored = {d["_id"]: d async for d in db.dirs.find({"_id": {"$in": ["a", "b", "c"]}})}
    assert sorted(stored["a"]["days"]) == ["d1", "d2", "d3"] and stored["a"]["n"] == 3
    assert stored["b"] == {"_id": "b", "days": ["d1"], "n": 1}


async def test_equality_on_an_indexed_field_reads_every_match_as_written(db) -> None:
    """The search index's buckets: every postings document of one bucket, by equality on the
    indexed `bucket` (arrays of [text, int, text] kept as written), and no other."""
    await ensure_indexes(db, {"postings": [IndexModel("bucket")]})
    at = 1_764_000_000_123
    await db.postings.insert_many(
        [
            {"_id": "退款|2026-11-23|x", "bucket": "退款|2026-11-23", "p": [["T-1", at, "e-1"]]},
            {"_id": "退款|2026-11-23|y", "bucket": "退款|2026-11-23", "p": [["T-2", at, ""]]},
            {"_id": "退款|2026-11-24|z", "bucket": "退款|2026-11-24", "p": [["T-3", at, "e"]]},
            {"_id": "退|2026-11-23|w", "bucket": "退|2026-11-23", "p": []},
        ],
        ordered=False,
    )
    found = [d async for d in db.postings.find({"bucket": "退款|2026-11-23"}, {"p": 1})]
    assert sorted(found, key=lambda d: d["_id"]) == [
        {"_id": "退款|2026-11-23|x", "p": [["T-1", at, "e-1"]]},
        {"_id": "退款|2026-11-23|y", "p": [["T-2", at, ""]]},
    ]
    assert [d async for d in db.postings.find({"bucket": "none"})] == []


async def test_a_range_of_a_field_indexed_alone_is_sorted_limited_and_skips_nulls(db) -> None:
    """The router's queue: a range of one top-level field indexed alone (`<lane>|<rank>`),
    sorted and limited; documents whose key is null (not waiting) are never in a range; and
    `$exists: false` finds documents stored before the field existed."""
    await ensure_indexes(db, {"queue": [IndexModel([("lane_rank", 1)])]})
    keys = [f"{lane}|r{n:02}" for n, lane in enumerate("abcab")]
    await db.queue.insert_many(
        [{"_id": f"t{n}", "lane_rank": key} for n, key in enumerate(keys)]
        + [{"_id": "done", "lane_rank": None}, {"_id": "old"}]
    )
    found = db.queue.find(
        {"lane_rank": {"$gt": "a|r00", "$lt": "a}"}}, sort=[("lane_rank", 1)], limit=5
    )
    assert [d["_id"] async for d in found] == ["t3"]
    everything = db.queue.find({"lane_rank": {"$gt": ""}}, sort=[("lane_rank", 1)], limit=3)
    assert [d["_id"] async for d in everything] == ["t0", "t3", "t1"]
    older = db.queue.find({"lane_rank": {"$exists": False}})
    assert "old" in [d["_id"] async for d in older]  # (nx-27017 also counts a null as missing)


async def test_a_range_of_a_field_indexed_alone_stays_fast_where_in_scans(db) -> None:
    """What the router's queue relies on as it grows: nx-27017 reads a range of a field
    indexed alone through its index, but scans every document for `$in` on a field (and for
    any field of a compound index). With 40,000 documents the scan is several times slower;
    MongoDB uses its indexes for both. A range whose bound is text that reads as a date
    (`2026-12-03T13:22:54.706Z`) is a date query to nx-27017, which scans for it too, and so
    is a range of dates: the router's wake times and analytics' ticket times are integers
    (milliseconds). So are `_id` in an empty list, which kefu never asks (`by_ids`), and a
    range of `_id` (analytics pages through a copy of the id in the state) and `$or`. Held
    timers (sla's, in its tickets) are read by a range of `at`, which half the documents
    have as null, sorted and limited: through the index too."""
    indexes = [IndexModel([("lane_rank", 1)]), IndexModel("lane"), IndexModel("wake_ms")]
    indexes.append(IndexModel("at"))
    dates = [IndexModel("wake_text"), IndexModel("wake_at")]
    await ensure_indexes(db, {"queue": [*indexes, *dates]})
    base = int(AT.timestamp() * 1000)

    def wake_text(ms: int) -> str:
        at = datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")
        return at.replace("+00:00", "Z")

    for start in range(0, 40_000, 5_000):
        await db.queue.insert_many(
            [
                {
                    "lane": "backlog",
                    "lane_rank": f"backlog|{n:06}",
                    "wake_ms": base + n,
                    "wake_text": wake_text(base + n),
                    "wake_at": from_ms(base + n),
                    "at": None if n % 2 else base + n,
                }
                for n in range(start, start + 5_000)
            ]
        )

    async def fastest_of_three(query: dict) -> float:
        took = []
        for _ in range(3):
            started = time.perf_counter()
            assert await db.queue.find(query, limit=200).to_list() == []
            took.append(time.perf_counter() - started)
        return min(took)

    ranged = await fastest_of_three({"lane_rank": {"$gt": "general|", "$lt": "general}"}})
    scanned = await fastest_of_three({"lane": {"$in": ["general", "billing"]}})
    woken = await fastest_of_three({"wake_ms": {"$lte": base - 1}})
    dated = await fastest_of_three({"wake_text": {"$lte": wake_text(base - 1000)}})
    date_range = {"$gte": from_ms(base - 2000), "$lt": from_ms(base - 1000)}
    between_dates = await fastest_of_three({"wake_at": date_range})
    claimed = await fastest_of_three({"at": {"$lte": base - 1}})
    started = time.perf_counter()
    earliest = await db.queue.find_one({"at": {"$gte": 0}}, {"at": 1}, sort=[("at", 1)])
    next_at = time.perf_counter() - started
    assert earliest["at"] == base
    if os.environ.get("KEFU_TEST_BACKEND", "embedded") == "embedded":  # nx-27017
        assert scanned > 3 * claimed and scanned > 3 * next_at, (scanned, claimed, next_at)
        assert scanned > 3 * ranged, (scanned, ranged)
        assert dated > 3 * woken, (dated, woken)
        assert between_dates > 3 * woken, (between_dates, woken)
        assert await fastest_of_three({"_id": {"$in": []}}) > 3 * woken
        started = time.perf_counter()
        assert await by_ids(db.queue, []) == {}  # asks nothing
        assert time.perf_counter() - started < woken
        assert await fastest_of_three({"_id": {"$gt": "~"}}) > 3 * woken  # analytics' pages
        either = {"$or": [{"wake_ms": base - 1}, {"lane_rank": "~"}]}  # the router's give_keys
        assert await fastest_of_three(either) > 3 * woken

"""Pins the MongoDB behaviour kefu relies on, on whichever backend runs the tests."""

from datetime import UTC, datetime, timedelta

import pytest
from pymongo import IndexModel

from shared.store import AppliedIds, connect, database, ensure_indexes, insert_new, swap


@pytest.fixture
async def db(settings):
    client = connect(settings)
    yield database(client, settings)
    await client.drop_database(settings.mongodb_db)
    await client.close()


async def test_insert_new_refuses_a_second_document_with_the_same_id(db) -> None:
    assert await insert_new(db.things, {"_id": "a", "n": 1})
    assert not await insert_new(db.things, {"_id": "a", "n": 2})
    assert (await db.things.find_one({"_id": "a"}))["n"] == 1


async def test_swap_is_a_compare_and_swap_that_keeps_types(db) -> None:
    at = datetime(2026, 11, 23, 10, 0, 0, 123000, tzinfo=UTC)
    await insert_new(db.things, {"_id": "t", "version": 1, "at": at, "flag": True, "ids": ["x"]})
    current = await db.things.find_one({"_id": "t"})

    won = await swap(db.things, {**current, "at": at + timedelta(seconds=1), "flag": False}, 1)
    lost = await swap(db.things, {**current, "flag": True}, 1)

    assert lost is None
    assert won["version"] == 2
    stored = await db.things.find_one({"_id": "t"})
    assert stored["at"] == at + timedelta(seconds=1) and isinstance(stored["at"], datetime)
    assert stored["flag"] is False and stored["ids"] == ["x"]


async def test_a_counter_increments_atomically_from_nothing(db) -> None:
    from pymongo import ReturnDocument

    values = [
        (
            await db.counters.find_one_and_update(
                {"_id": "c"},
                {"$inc": {"seq": 1}},
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
        )["seq"]
        for _ in range(3)
    ]
    assert values == [1, 2, 3]


async def test_applied_ids_remember_and_ttl_index(db) -> None:
    applied = AppliedIds(db.applied, timedelta(days=7))
    await ensure_indexes(db, {"applied": AppliedIds.indexes(), "other": [IndexModel("k")]})
    assert not await applied.seen("e-1")
    await applied.remember("e-1")
    await applied.remember("e-1")
    assert await applied.seen("e-1")
    info = await db.applied.index_information()
    assert any(spec.get("expireAfterSeconds") == 0 for spec in info.values())


async def test_databases_do_not_share_collections(db, settings) -> None:
    client = connect(settings)
    other = client[f"{settings.mongodb_db}_other"]
    try:
        await insert_new(db.things, {"_id": "mine"})
        assert await other.things.find_one({"_id": "mine"}) is None
    finally:
        await client.drop_database(other.name)
        await client.close()

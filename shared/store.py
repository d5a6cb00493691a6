"""MongoDB access through PyMongo's async API, limited to what every backend does right.

State documents live in shared/decisions.py: inserted with unordered `insert_many` (a
duplicate key means another replica or an earlier attempt got there first) and changed with
version-filtered whole-document replaces in one `bulk_write`. Whole-document replacement is
used instead of `$set` because some MongoDB-protocol servers (nx-27017) store `$set`
datetimes as strings. Hot reads go by `_id` (or an indexed scalar) with `$in` (`by_ids`:
never over no ids, which nx-27017 answers by reading the whole collection), never by an
array element, and no collection read on the hot path has a TTL index (nx-27017 scans every
query on one). tests/integration/test_store_backend.py pins each operation.
"""

import asyncio
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from typing import Any

from pymongo import AsyncMongoClient, IndexModel, monitoring
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from kefu.shared.settings import Settings

Document = dict[str, Any]
DUPLICATE_KEY = 11000


def connect(
    settings: Settings, listeners: Sequence[monitoring.CommandListener] = ()
) -> AsyncMongoClient[Document]:
    return AsyncMongoClient(
        settings.mongodb_url.get_secret_value(),
        tz_aware=True,
        serverSelectionTimeoutMS=5000,
        connect=False,
        appname="kefu",
        event_listeners=list(listeners),
    )


def database(client: AsyncMongoClient[Document], settings: Settings) -> AsyncDatabase[Document]:
    return client[settings.mongodb_db]


async def ensure_indexes(
    db: AsyncDatabase[Document], indexes: Mapping[str, Sequence[IndexModel]]
) -> None:
    for collection, models in indexes.items():
        if models:
            await db[collection].create_indexes(list(models))


async def by_ids(
    collection: AsyncCollection[Document],
    ids: Iterable[Any],
    projection: Document | None = None,
    **also: Any,
) -> dict[Any, Document]:
    """The documents with these `_id`s (and the equalities `also`), by id; no command at
    all for no ids: nx-27017 answers `_id` in an empty list by reading every document."""
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        return {}
    found = collection.find({"_id": {"$in": wanted}, **also}, projection)
    return {document["_id"]: document async for document in found}


async def insert_all(collection: AsyncCollection[Document], documents: list[Document]) -> set[Any]:
    """Insert every document that is not there yet, in one unordered `insert_many`; the
    `_id`s that were there already (or took a unique key another document has)."""
    if not documents:
        return set()
    try:
        await collection.insert_many(documents, ordered=False)
    except BulkWriteError as error:
        problems = error.details.get("writeErrors", [])
        if any(problem["code"] != DUPLICATE_KEY for problem in problems):
            raise
        return {documents[problem["index"]]["_id"] for problem in problems}
    return set()


async def paced(
    documents: AsyncIterator[Document], batch: int, share: float
) -> AsyncIterator[Document]:
    """A large background read that takes about `share` of the time: after each `batch`
    documents, a pause in which the store answers the hot path's commands instead (one
    process, like the embedded store, serves one command at a time) and this process's
    CPU goes to other work. The pause is as long as the batch took, times (1 / share - 1)."""
    loop = asyncio.get_running_loop()
    started, count = loop.time(), 0
    async for document in documents:
        yield document
        count += 1
        if count % batch == 0:
            await asyncio.sleep((loop.time() - started) * (1 / share - 1))
            started = loop.time()

"""MongoDB access through PyMongo's async API, limited to what every backend does right.

State documents are created with `insert_one` (a duplicate key means another replica or an
earlier attempt got there first) and changed with `find_one_and_replace` filtered on their
`version`: one atomic compare-and-swap of one document. Whole-document replacement is used
instead of `$set` because some MongoDB-protocol servers (nx-27017) store `$set` datetimes as
strings; tests/integration/test_store_backend.py pins the behaviour we rely on.
"""

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from pymongo import AsyncMongoClient, IndexModel, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from shared.events.base import utc_now
from shared.settings import Settings

Document = dict[str, Any]


def connect(settings: Settings) -> AsyncMongoClient[Document]:
    return AsyncMongoClient(
        settings.mongodb_url.get_secret_value(),
        tz_aware=True,
        serverSelectionTimeoutMS=5000,
        connect=False,
        appname="kefu",
    )


def database(client: AsyncMongoClient[Document], settings: Settings) -> AsyncDatabase[Document]:
    return client[settings.mongodb_db]


async def ensure_indexes(
    db: AsyncDatabase[Document], indexes: Mapping[str, Sequence[IndexModel]]
) -> None:
    for collection, models in indexes.items():
        if models:
            await db[collection].create_indexes(list(models))


async def insert_new(collection: AsyncCollection[Document], document: Document) -> bool:
    """Insert; False when a document with the same `_id` (or unique key) already exists."""
    try:
        await collection.insert_one(document)
    except DuplicateKeyError:
        return False
    return True


async def swap(
    collection: AsyncCollection[Document], document: Document, expected_version: int
) -> Document | None:
    """Replace the document if it is still at `expected_version`; the new one, or None."""
    replacement = {**document, "version": expected_version + 1}
    replacement.pop("_id", None)
    return await collection.find_one_and_replace(
        {"_id": document["_id"], "version": expected_version},
        replacement,
        return_document=ReturnDocument.AFTER,
    )


class AppliedIds:
    """Ids of inputs a service has fully handled, kept for a TTL, so repeats are skipped."""

    def __init__(self, collection: AsyncCollection[Document], ttl: timedelta) -> None:
        self.collection = collection
        self.ttl = ttl

    @staticmethod
    def indexes() -> list[IndexModel]:
        return [IndexModel("expires_at", expireAfterSeconds=0)]

    async def seen(self, applied_id: str) -> bool:
        return await self.collection.find_one({"_id": applied_id}, {"_id": 1}) is not None

    async def remember(self, applied_id: str) -> None:
        await insert_new(self.collection, {"_id": applied_id, "expires_at": utc_now() + self.ttl})

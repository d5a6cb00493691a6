"""Analytics against the real broker and store: ticket events become a projection."""

import asyncio
from datetime import UTC, datetime

from pymongo import AsyncMongoClient

from services.analytics.app import build
from shared.service import Service
from shared.settings import Settings
from shared.topics import Topic
from tests.factories import message, opening


async def test_ticket_events_fold_into_one_projection_even_when_repeated(
    settings: Settings,
) -> None:
    events = opening(message("email", "m-1", subject="Help"), now=datetime.now(UTC))
    publisher = Service.create("publisher", settings)
    publisher.bus.declare_publishes(Topic.TICKET_EVENTS)
    async with build(settings), publisher.app():
        for event in [*events, *events]:
            await publisher.bus.publish(event)
        projection = await _projection(settings, "1001", lambda doc: doc["messages"] == 1)
        await asyncio.sleep(1.0)
        projection = await _projection(settings, "1001", lambda doc: True)

    assert projection["status"] == "new"
    assert projection["priority"] == "P3"
    assert projection["channel"] == "email"
    assert projection["customer"]["address"] == "jane@example.com"
    assert [entry["type"] for entry in projection["timeline"]] == [
        "kefu.ticket.opened",
        "kefu.ticket.message_received",
    ]


async def _projection(settings: Settings, ticket_id: str, ready, wait_s: float = 15):
    client: AsyncMongoClient = AsyncMongoClient(
        settings.mongodb_url.get_secret_value(), tz_aware=True
    )
    try:
        collection = client[settings.mongodb_db]["analytics_tickets"]
        for _ in range(int(wait_s / 0.1)):
            doc = await collection.find_one({"_id": ticket_id})
            if doc and ready(doc):
                return doc
            await asyncio.sleep(0.1)
        raise AssertionError(f"no projection for {ticket_id}: {doc}")
    finally:
        await client.close()

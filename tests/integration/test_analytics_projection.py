"""Analytics against the real broker and store: ticket events become a projection."""

import asyncio
from datetime import UTC, datetime

from pymongo import AsyncMongoClient

from kefu.services.analytics.app import build
from kefu.shared.events import new_event
from kefu.shared.events.routing import TicketAssigned
from kefu.shared.events.ticket import (
    CategoryChanged,
    PriorityChanged,
    StatusChanged,
    TicketMerged,
)
from kefu.shared.service import Service
from kefu.shared.settings import Settings
from kefu.shared.topics import Topic
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
        await _projection(settings, "1001", lambda doc: doc["state"]["messages"] == 1)
        await asyncio.sleep(1.0)
        projection = (await _projection(settings, "1001", lambda doc: True))["state"]
        timeline = projection["timeline"]

    assert projection["status"] == "new"
    assert projection["priority"] == "P3" and projection["messages"] == 1
    assert projection["channel"] == "email"
    assert projection["customer"]["address"] == "jane@example.com"
    assert [entry["type"] for entry in timeline] == [
        "kefu.ticket.opened",
        "kefu.ticket.message_received",
    ]


async def test_a_solved_ticket_shows_solved_with_its_assignee(settings: Settings) -> None:
    opened, received = opening(message("email", "m-1"), now=datetime.now(UTC))
    at = datetime.now(UTC)
    later = [
        TicketAssigned(
            ticket_id="1001", agent_id="a-1", strategy="least_loaded", tier=1, waited_ms=9, at=at
        ),
        PriorityChanged(ticket_id="1001", from_priority="P3", to="P2", by="a-1", at=at),
        StatusChanged(ticket_id="1001", from_status="open", to="solved", by="a-1", at=at),
    ]
    solved = await _folded(settings, [opened, received], later, "solved")
    state = solved["state"]
    assert (state["assignee"], state["priority"], state["tier"]) == ("a-1", "P2", 1)


async def _folded(settings: Settings, opening_events: list, later: list, status: str) -> dict:
    """The projection once the opening events, then `later`'s data as events, put the
    ticket in `status`."""
    publisher = Service.create("publisher", settings)
    publisher.bus.declare_publishes(Topic.TICKET_EVENTS, Topic.ROUTING_EVENTS)
    ticket_id = opening_events[0].data.ticket_id
    async with build(settings), publisher.app():
        await publisher.bus.publish(*opening_events)
        await publisher.bus.publish(
            *(
                new_event(data, id=f"{ticket_id}-{n}", source="kefu/t", correlationid="c")
                for n, data in enumerate(later)
            )
        )
        return await _projection(settings, ticket_id, lambda doc: doc["state"]["status"] == status)


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


async def test_a_category_change_and_a_merge_fold_into_the_projection(
    settings: Settings,
) -> None:
    opened, received = opening(message("email", "m-1"), ticket_id="2001", now=datetime.now(UTC))
    at = datetime.now(UTC)
    later = [
        CategoryChanged(
            ticket_id="2001",
            from_category=opened.data.category,
            to=["billing", "payment", "refund"],
            agent_id="a-1",
            at=at,
        ),
        TicketMerged(ticket_id="2001", into_ticket_id="2002", agent_id="a-1", at=at),
        StatusChanged(
            ticket_id="2001", from_status="new", to="closed", by="a-1", at=at, reason="merged"
        ),
    ]
    closed = await _folded(settings, [opened, received], later, "closed")
    state = closed["state"]
    assert state["category"] == ["billing", "payment", "refund"]
    assert state["merged_into"] == "2002"
    assert [entry["type"] for entry in state["timeline"]][-3:] == [
        "kefu.ticket.category_changed",
        "kefu.ticket.merged",
        "kefu.ticket.status_changed",
    ]

"""Analytics' collections: a state document per ticket (shared/decisions.py) holding its
projection, and the timeline, one document per event (`_id` = the event id)."""

import time
from collections.abc import Sequence
from typing import Any

from pymongo import IndexModel
from pymongo.errors import BulkWriteError

from services.analytics.projection import TicketProjection
from shared.decisions import DUPLICATE_KEY, StateCollection
from shared.events import CloudEvent
from shared.service import Service


class AnalyticsStore:
    def __init__(self, service: Service) -> None:
        db = service.db
        self.tickets = StateCollection(db[service.collection_name("tickets")], TicketProjection)
        self.timeline = db[service.collection_name("timeline")]

    @staticmethod
    def indexes() -> dict[str, list[IndexModel]]:
        return {
            "analytics_tickets": [
                IndexModel("state.opened_at"),
                IndexModel([("state.status", 1), ("state.priority", 1)]),
            ],
            "analytics_timeline": [IndexModel([("ticket_id", 1), ("at", 1), ("seq", 1)])],
        }

    async def add_to_timelines(self, events: Sequence[CloudEvent[Any]]) -> None:
        """Each event once on its ticket's timeline; a repeat is already there. `seq` orders
        events of the same time as they were read."""
        if not events:
            return
        first = time.time_ns()
        entries = {
            event.id: {
                "_id": event.id,
                "ticket_id": event.data.ticket_id,
                "type": event.type,
                "at": event.time,
                "seq": first + index,
            }
            for index, event in enumerate(events)
        }
        try:
            await self.timeline.insert_many(list(entries.values()), ordered=False)
        except BulkWriteError as error:
            if any(e["code"] != DUPLICATE_KEY for e in error.details.get("writeErrors", [])):
                raise

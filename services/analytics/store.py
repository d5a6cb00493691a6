"""Analytics' collections: one projection document per ticket, changed by compare-and-swap."""

from collections.abc import Callable
from typing import Any

from pymongo import IndexModel

from services.analytics.projection import Projection, empty_projection
from shared.service import Service
from shared.store import Document, insert_new, swap


class AnalyticsStore:
    def __init__(self, service: Service) -> None:
        self.tickets = service.db[service.collection_name("tickets")]

    @staticmethod
    def indexes() -> dict[str, list[IndexModel]]:
        return {
            "analytics_tickets": [
                IndexModel("opened_at"),
                IndexModel([("status", 1), ("priority", 1)]),
            ]
        }

    async def ticket(self, ticket_id: str) -> Document | None:
        return await self.tickets.find_one({"_id": ticket_id})

    async def update_ticket(
        self, ticket_id: str, change: Callable[[Projection], Projection | None]
    ) -> None:
        """Apply `change` atomically: reload and retry when another writer got there first.
        `change` returns None when there is nothing to do."""
        while True:
            current = await self.ticket(ticket_id)
            base: Any = current or {**empty_projection(ticket_id), "version": 0}
            updated = change(base)
            if updated is None:
                return
            if current is None:
                if await insert_new(self.tickets, {**updated, "version": 1}):
                    return
            elif await swap(self.tickets, updated, current["version"]) is not None:
                return

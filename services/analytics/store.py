"""Analytics' collections: a state document per ticket (shared/decisions.py) holding its
projection."""

from pymongo import IndexModel

from services.analytics.projection import TicketProjection
from shared.decisions import StateCollection
from shared.service import Service


class AnalyticsStore:
    def __init__(self, service: Service) -> None:
        db = service.db
        self.tickets = StateCollection(db[service.collection_name("tickets")], TicketProjection)

    @staticmethod
    def indexes() -> dict[str, list[IndexModel]]:
        return {
            "analytics_tickets": [
                IndexModel("state.opened_at"),
                IndexModel([("state.status", 1), ("state.priority", 1)]),
            ]
        }

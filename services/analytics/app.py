"""Analytics: ticket projections in MongoDB (KPIs, API and dashboard come in later issues)."""

from typing import Any

from faststream.asgi import AsgiFastStream

from services.analytics.projection import apply_event, has_applied
from services.analytics.store import AnalyticsStore
from shared.events.schema import envelope_schema
from shared.service import Service
from shared.settings import Settings
from shared.topics import Topic

TicketEvents: Any = envelope_schema(Topic.TICKET_EVENTS)


def build(settings: Settings) -> AsgiFastStream:
    service = Service.create("analytics", settings, AnalyticsStore.indexes())
    store = AnalyticsStore(service)

    @service.bus.subscriber(Topic.TICKET_EVENTS)
    async def on_ticket_event(event: TicketEvents) -> None:
        """Fold every ticket event into the ticket's projection."""
        await store.update_ticket(
            event.data.ticket_id,
            lambda projection: (
                None if has_applied(projection, event.id) else apply_event(projection, event)
            ),
        )

    return service.app()

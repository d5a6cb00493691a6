"""Analytics: ticket projections in MongoDB (KPIs, API and dashboard come in later issues)."""

from faststream.asgi import AsgiFastStream

from services.analytics.projection import fold
from services.analytics.store import AnalyticsStore
from shared.consumer import canonical_event
from shared.decisions import DecisionUnit
from shared.events.schema import envelope_schema
from shared.service import Service
from shared.settings import Settings
from shared.topics import Topic

TOPICS = (Topic.TICKET_EVENTS, Topic.ROUTING_EVENTS)


def build(settings: Settings) -> AsgiFastStream:
    service = Service.create("analytics", settings, AnalyticsStore.indexes())
    store = AnalyticsStore(service)
    unit = DecisionUnit(
        store.tickets,
        service.bus.publish,
        key=lambda event: event.data.ticket_id,
        input_id=lambda event: event.id,
        decide=lambda projection, event, now: (fold(projection, event), []),
    )

    service.bus.consume(
        *TOPICS,
        decode=canonical_event,
        handle=unit.handle,
        schema=envelope_schema(*TOPICS),
        description="Folds every ticket and routing event into the ticket's projection.",
    )
    return service.app()

"""Analytics: ticket and agent projections in MongoDB, exact KPIs, the ticket API with roles,
a live dashboard, reports with a QA sample, KPI snapshots, surge and staffing alerts
(contract 3, 4.2, 5.1, 7; policy `analytics`)."""

from faststream.asgi import AsgiFastStream

from kefu.services.analytics.handling import Projections
from kefu.services.analytics.http import analytics_api
from kefu.services.analytics.projection import sla_clocks
from kefu.services.analytics.store import AnalyticsStore
from kefu.services.analytics.windows import Windows
from kefu.shared.consumer import canonical_event
from kefu.shared.events.schema import envelope_schema
from kefu.shared.service import Service
from kefu.shared.settings import Settings
from kefu.shared.topics import Topic

# Nothing waits on a projection but the dashboard, which asks every five seconds: two
# seconds of a ticket's events (its reply and solve, its SLA's) are one write of it, and
# under load a batch may hold four times the others' records for the same reason.
GATHER_S = 2.0
MOST_RECORDS = 2000
READS = (
    Topic.TICKET_EVENTS,
    Topic.ROUTING_EVENTS,
    Topic.SLA_EVENTS,
    Topic.SURVEY_EVENTS,
    Topic.AGENT_EVENTS,
)


def build(settings: Settings) -> AsgiFastStream:
    service = Service.create("analytics", settings, AnalyticsStore.indexes())
    service.bus.declare_publishes(Topic.ANALYTICS_KPIS, Topic.OPS_EVENTS)
    store = AnalyticsStore(service)
    projections = Projections(service.bus, store, sla_clocks(service.policy.sla))
    windows = Windows(service.bus, store, service.policy.analytics, registry=service.registry)
    service.background.append(windows.run)

    service.bus.consume(
        *READS,
        decode=canonical_event,
        handle=projections.handle,
        schema=envelope_schema(*READS),
        description="Folds every ticket, routing, SLA, survey and presence event into the "
        "ticket's and the agent's projections.",
        gather_s=GATHER_S,
        most=MOST_RECORDS,
    )
    return service.app(fallback=analytics_api(store, settings))

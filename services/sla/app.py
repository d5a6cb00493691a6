"""SLA: policies, business calendars, durable timers, warnings, breaches and escalation chains
(contract 3, 4, 4.2; policy `sla`)."""

from faststream.asgi import AsgiFastStream

from kefu.services.sla.handling import sla_decisions
from kefu.services.sla.store import SlaStore
from kefu.services.sla.targets import Rules
from kefu.shared.consumer import canonical_event
from kefu.shared.events.schema import envelope_schema
from kefu.shared.service import Service
from kefu.shared.settings import Settings
from kefu.shared.topics import Topic

READS = (Topic.TICKET_EVENTS, Topic.ROUTING_EVENTS)


def build(settings: Settings) -> AsgiFastStream:
    service = Service.create("sla", settings, SlaStore.indexes())
    service.bus.declare_publishes(Topic.SLA_EVENTS)
    store = SlaStore(service)
    service.preparing.append(lambda: store.timers.take_over(store.older_timers))
    sla = sla_decisions(service.bus, store, Rules.of(service.policy.sla))
    service.background.append(sla.run_timers)

    service.bus.consume(
        *READS,
        decode=canonical_event,
        handle=sla.handle,
        schema=envelope_schema(*READS),
        description="Arms every ticket's SLA targets, announces warnings, breaches, "
        "escalations and met targets.",
    )
    return service.app()

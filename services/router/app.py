"""Router: skills, tier, capacity, least-load or round-robin, first-contact ownership, a
durable priority queue, transfers, escalations and surge overflow (contract 4, policy
`routing`)."""

from faststream.asgi import AsgiFastStream

from kefu.services.router.handling import Router
from kefu.services.router.store import RouterStore
from kefu.shared.consumer import canonical_event
from kefu.shared.events.schema import envelope_schema
from kefu.shared.service import Service
from kefu.shared.settings import Settings
from kefu.shared.topics import Topic

READS = (Topic.TICKET_EVENTS, Topic.AGENT_EVENTS, Topic.SLA_EVENTS, Topic.OPS_EVENTS)


def build(settings: Settings) -> AsgiFastStream:
    service = Service.create("router", settings, RouterStore.indexes())
    service.bus.declare_publishes(Topic.ROUTING_EVENTS, Topic.AGENT_EVENTS)
    router = Router(service.bus, RouterStore(service), service.policy.routing)
    service.background.append(router.wake_when_due)  # transfers' holds, relaxation

    service.bus.consume(
        *READS,
        decode=canonical_event,
        handle=router.handle,
        schema=envelope_schema(*READS),
        description="Assigns tickets to agents, queues what nobody can take, gives back "
        "what agents leave.",
    )
    return service.app()

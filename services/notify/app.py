"""Notify: the customer and the staff told at every step, exactly once, by email, SMS and
signed webhooks; retries, quiet hours and opt-out (contract 4.1, 4.2; policy `notify`)."""

from faststream.asgi import AsgiFastStream

from kefu.services.notify.handling import Notify
from kefu.services.notify.http import notify_api
from kefu.services.notify.plan import Rules
from kefu.services.notify.providers import check_sms_gateway
from kefu.services.notify.store import NotifyStore
from kefu.shared.bus import GATHER_S
from kefu.shared.consumer import canonical_event
from kefu.shared.events.schema import envelope_schema
from kefu.shared.service import Service
from kefu.shared.settings import Settings
from kefu.shared.topics import Topic

READS = (
    Topic.TICKET_EVENTS,
    Topic.ROUTING_EVENTS,
    Topic.SLA_EVENTS,
    Topic.NOTIFY_REQUESTS,
    Topic.SURVEY_EVENTS,
    Topic.OPS_EVENTS,
)


def build(settings: Settings) -> AsgiFastStream:
    settings.signing_secret("notify_secret")
    service = Service.create("notify", settings, NotifyStore.indexes())
    service.bus.declare_publishes(Topic.NOTIFY_DELIVERIES)
    store = NotifyStore(service)
    service.preparing.append(lambda: store.timers.take_over(store.older_timers))
    policy = service.policy
    check_sms_gateway(settings, policy.notify.sms_gateway)
    notify = Notify(
        service.bus, store, Rules(policy.notify, policy.sla, settings.default_locale), settings
    )
    service.background.append(lambda: store.timers.run(notify.fire))
    service.closing.append(notify.close)

    service.bus.consume(
        *READS,
        decode=canonical_event,
        handle=notify.handle,
        schema=envelope_schema(*READS),
        description="Plans who is told what for every event, and sends it exactly once.",
        gather_s=GATHER_S,
    )
    api = notify_api(store, settings)
    return service.app([(path, api) for path in dict.fromkeys(r.path for r in api.routes)])

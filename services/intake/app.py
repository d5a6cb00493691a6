"""Intake: the one door into kefu. Turns channel messages into canonical ticket events."""

from faststream.asgi import AsgiFastStream

from services.intake.store import IntakeStore
from services.intake.tickets import conversation, opening_events
from shared.events.base import utc_now
from shared.inbound import ChannelMessage
from shared.logs import get_logger
from shared.service import Service
from shared.settings import Settings
from shared.topics import Topic

log = get_logger("kefu.intake")


def build(settings: Settings) -> AsgiFastStream:
    service = Service.create("intake", settings, IntakeStore.indexes())
    store = IntakeStore(service)
    bus = service.bus
    bus.declare_publishes(Topic.TICKET_EVENTS, Topic.AGENT_EVENTS)

    @bus.subscriber(Topic.CHANNEL_INBOUND)
    async def on_channel_message(message: ChannelMessage) -> None:
        """A customer message from a channel adapter."""
        record = await store.recorded(message.dedupe_key)
        if record and record.get("published"):
            log.info("duplicate message skipped", message_key=message.dedupe_key)
            return
        if record:
            events = store.events_of(record)
        else:
            now = utc_now()
            ticket_id = await store.next_ticket_id()
            decided = opening_events(message, ticket_id, service.policy.classification, now)
            events = await store.record(message.dedupe_key, decided, now)
        await store.open_ticket(conversation(events[0].data))
        for event in events:
            await bus.publish(event)
        await store.mark_published(message.dedupe_key)

    return service.app()

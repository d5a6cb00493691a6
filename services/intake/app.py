"""Intake: the one door into kefu. Channel messages and agent actions, from Kafka or HTTP,
become canonical ticket and agent events."""

from typing import Any

from faststream.asgi import AsgiFastStream

from kefu.services.intake.actions import decode_command
from kefu.services.intake.handling import Intake
from kefu.services.intake.http import inbound_api
from kefu.services.intake.store import IntakeStore
from kefu.shared.consumer import Record, canonical_event
from kefu.shared.events.schema import envelope_schema
from kefu.shared.inbound import (
    ChannelMessage,
    TimeBounds,
    decode_channel_message,
    inbound_schema,
)
from kefu.shared.service import Service
from kefu.shared.settings import Settings
from kefu.shared.topics import Topic

FOLLOWS = (Topic.SURVEY_EVENTS, Topic.ROUTING_EVENTS)


def build(settings: Settings) -> AsgiFastStream:
    service = Service.create("intake", settings, IntakeStore.indexes())
    bus = service.bus
    bus.declare_publishes(Topic.TICKET_EVENTS, Topic.AGENT_EVENTS)
    intake = Intake(bus, IntakeStore(service), service.policy, settings)
    agent_topic, channel_topic = bus.topic(Topic.AGENT_INBOUND), bus.topic(Topic.CHANNEL_INBOUND)
    bounds = TimeBounds.of(settings)

    def decode(record: Record) -> Any:
        """Each topic by its own model; what fails goes to the DLQ with the reason."""
        if record.topic == channel_topic:
            return decode_channel_message(record.value, bounds)
        if record.topic == agent_topic:
            return decode_command(record.value)
        return canonical_event(record)

    bus.consume(
        Topic.CHANNEL_INBOUND,
        Topic.AGENT_INBOUND,
        *FOLLOWS,
        decode=decode,
        handle=intake.handle,
        schema=ChannelMessage | inbound_schema(Topic.AGENT_INBOUND) | envelope_schema(*FOLLOWS),
        description="Customer messages from channel adapters, agents' presence and actions, "
        "the surveys open to SMS replies and each ticket's assignee.",
    )
    return service.app(fallback=inbound_api(bus))

"""Intake: the one door into kefu. Channel messages and agent actions, from Kafka or HTTP,
become canonical ticket and agent events."""

from typing import Any

from faststream.asgi import AsgiFastStream

from services.intake.handling import Intake
from services.intake.http import inbound_routes
from services.intake.store import IntakeStore
from shared.consumer import Record, canonical_event
from shared.events.schema import envelope_schema
from shared.inbound import (
    ChannelMessage,
    decode_agent_command,
    decode_channel_message,
    inbound_schema,
)
from shared.service import Service
from shared.settings import Settings
from shared.topics import Topic


def build(settings: Settings) -> AsgiFastStream:
    service = Service.create("intake", settings, IntakeStore.indexes())
    bus = service.bus
    bus.declare_publishes(Topic.TICKET_EVENTS, Topic.AGENT_EVENTS)
    intake = Intake(bus, IntakeStore(service), service.policy, settings)
    agent_topic, survey_topic = bus.topic(Topic.AGENT_INBOUND), bus.topic(Topic.SURVEY_EVENTS)

    def decode(record: Record) -> Any:
        """Each topic by its own model; what fails goes to the DLQ with the reason."""
        if record.topic == agent_topic:
            return decode_agent_command(record.value)
        if record.topic == survey_topic:
            return canonical_event(record)
        return decode_channel_message(record.value)

    bus.consume(
        Topic.CHANNEL_INBOUND,
        Topic.AGENT_INBOUND,
        Topic.SURVEY_EVENTS,
        decode=decode,
        handle=intake.handle,
        schema=ChannelMessage
        | inbound_schema(Topic.AGENT_INBOUND)
        | envelope_schema(Topic.SURVEY_EVENTS),
        description="Customer messages from channel adapters, agents' presence and actions, "
        "and the surveys open to SMS replies.",
    )
    return service.app(routes=inbound_routes(bus))

"""Intake: the one door into kefu. Channel messages and agent actions, from Kafka or HTTP,
become canonical ticket and agent events."""

from typing import Any

from faststream.asgi import AsgiFastStream
from faststream.kafka.annotations import KafkaMessage
from faststream.message import StreamMessage

from services.intake.handling import Intake
from services.intake.http import inbound_routes
from services.intake.store import IntakeStore
from shared.inbound import (
    AgentCommand,
    ChannelMessage,
    PresenceCommand,
    decode_agent_command,
    decode_channel_message,
)
from shared.service import Service
from shared.settings import Settings
from shared.topics import Topic


def build(settings: Settings) -> AsgiFastStream:
    service = Service.create("intake", settings, IntakeStore.indexes())
    bus = service.bus
    bus.declare_publishes(Topic.TICKET_EVENTS, Topic.AGENT_EVENTS)
    intake = Intake(bus, IntakeStore(service), service.policy, settings)
    agent_topic = bus.topic(Topic.AGENT_INBOUND)

    async def decode(message: StreamMessage[Any]) -> ChannelMessage | AgentCommand:
        """Each inbound topic by its own model; what fails goes to the DLQ with the reason."""
        if message.raw_message.topic == agent_topic:
            return decode_agent_command(message.body)
        return decode_channel_message(message.body)

    @bus.subscriber(Topic.CHANNEL_INBOUND, Topic.AGENT_INBOUND, decoder=decode)
    async def on_inbound(inbound: ChannelMessage | AgentCommand, message: KafkaMessage) -> None:
        """A customer message from a channel adapter, or an agent's presence or action."""
        if isinstance(inbound, ChannelMessage):
            await intake.on_message(inbound)
        elif isinstance(inbound, PresenceCommand):
            await intake.on_presence(inbound, message.raw_message)
        else:
            await intake.on_command(inbound)

    return service.app(routes=inbound_routes(bus))

"""Events on `routing.events`, written by router."""

from typing import ClassVar, Literal

from pydantic import Field

from kefu.shared.events.base import EventData, SupportTier, Timestamp
from kefu.shared.topics import Topic


class RoutingEvent(EventData):
    topic: ClassVar[Topic] = Topic.ROUTING_EVENTS
    ticket_id: str


class TicketAssigned(RoutingEvent):
    event_type: ClassVar[str] = "kefu.ticket.assigned"
    agent_id: str
    strategy: str
    tier: SupportTier
    waited_ms: int
    at: Timestamp


class TicketQueued(RoutingEvent):
    event_type: ClassVar[str] = "kefu.ticket.queued"
    skills: list[str]
    tier: SupportTier
    reason: str
    agent_id: str | None = Field(None, description="reason `transfer`: the agent it waits for")
    at: Timestamp


class TicketUnassigned(RoutingEvent):
    event_type: ClassVar[str] = "kefu.ticket.unassigned"
    agent_id: str
    reason: Literal["agent_offline", "transfer", "escalation"]
    at: Timestamp

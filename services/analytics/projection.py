"""Pure fold: a ticket's projection after one more event. No I/O.

The projection holds the ticket's current fields, counters and its latest TIMELINE_SIZE
events, never its whole history, so folding an event costs the same on a ticket's first
event and on its thousandth. Events may arrive across topics out of order (an
assignment before the ticket's `opened`): `opened` fills in what it carries without moving a
status that later events already set.
"""

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from shared.events import CloudEvent
from shared.events.base import Channel, Priority, SupportTier, TicketStatus
from shared.events.routing import TicketAssigned, TicketUnassigned
from shared.events.ticket import (
    AgentReplied,
    Customer,
    Escalated,
    MessageReceived,
    PriorityChanged,
    Reopened,
    StatusChanged,
    TicketOpened,
)

TIMELINE_SIZE = 50
OPENED_FIELDS = (
    "channel",
    "customer",
    "subject",
    "priority",
    "category",
    "skills",
    "tier",
    "locale",
    "follow_up_of",
    "first_message_id",
    "opened_at",
)


class TimelineEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    type: str
    at: datetime


class TicketProjection(BaseModel):
    model_config = ConfigDict(frozen=True)

    ticket_id: str
    status: TicketStatus | None = None
    priority: Priority | None = None
    tier: SupportTier | None = None
    assignee: str | None = None
    channel: Channel | None = None
    customer: Customer | None = None
    subject: str | None = None
    category: list[str] = []
    skills: list[str] = []
    locale: str | None = None
    follow_up_of: str | None = None
    first_message_id: str | None = None
    opened_at: datetime | None = None
    messages: int = 0
    public_replies: int = 0
    first_public_reply_at: datetime | None = None
    reopened: int = 0
    solved_at: datetime | None = None
    sla: dict[str, Any] = {}
    csat: int | None = None
    updated_at: datetime | None = None
    timeline: list[TimelineEntry] = []


def fold(projection: TicketProjection | None, event: CloudEvent[Any]) -> TicketProjection:
    """The projection with `event` folded in."""
    current = projection or TicketProjection(ticket_id=event.data.ticket_id)
    changes = _changes(current, event.data)
    entry = TimelineEntry(id=event.id, type=event.type, at=event.time)
    timeline = [*current.timeline, entry][-TIMELINE_SIZE:]
    return current.model_copy(update={**changes, "updated_at": event.time, "timeline": timeline})


def _changes(current: TicketProjection, data: Any) -> dict[str, Any]:
    match data:
        case TicketOpened():
            opened = {field: getattr(data, field) for field in OPENED_FIELDS}
            return {**opened, "status": current.status or "new"}
        case MessageReceived():
            return {"messages": current.messages + 1}
        case AgentReplied(public=True):
            first = current.first_public_reply_at or data.replied_at
            return {"public_replies": current.public_replies + 1, "first_public_reply_at": first}
        case StatusChanged():
            solved = {"solved_at": data.at} if data.to == "solved" else {}
            return {"status": data.to, **solved}
        case PriorityChanged():
            return {"priority": data.to}
        case Reopened():
            return {"status": "open", "reopened": current.reopened + 1}
        case Escalated():
            return {"tier": data.to_tier}
        case TicketAssigned():
            status = "open" if current.status in (None, "new") else current.status
            return {"assignee": data.agent_id, "tier": data.tier, "status": status}
        case TicketUnassigned() if current.assignee == data.agent_id:
            return {"assignee": None}
    return {}

"""Events on `sla.events`, written by sla."""

from typing import ClassVar, Literal

from pydantic import BaseModel, Field

from kefu.shared.events.base import EventData, Priority, Timestamp
from kefu.shared.topics import Topic

Metric = Literal["first_response", "next_reply", "resolution"]


class SlaTarget(BaseModel):
    metric: Metric
    due_at: Timestamp


class SlaEvent(EventData):
    topic: ClassVar[Topic] = Topic.SLA_EVENTS
    ticket_id: str
    policy: str


class SlaStarted(SlaEvent):
    event_type: ClassVar[str] = "kefu.sla.started"
    targets: list[SlaTarget]


class SlaWarning(SlaEvent):
    event_type: ClassVar[str] = "kefu.sla.warning"
    metric: Metric
    due_at: Timestamp
    remaining_s: float


class SlaBreached(SlaEvent):
    event_type: ClassVar[str] = "kefu.sla.breached"
    metric: Metric
    priority: Priority
    due_at: Timestamp
    breached_at: Timestamp
    agent_id: str | None


class SlaEscalated(SlaEvent):
    event_type: ClassVar[str] = "kefu.sla.escalated"
    metric: Metric
    level: int
    notify: list[str]
    raise_tier: bool = Field(False, description="the ticket goes to the next support tier")
    at: Timestamp


class SlaMet(SlaEvent):
    event_type: ClassVar[str] = "kefu.sla.met"
    metric: Metric
    due_at: Timestamp
    met_at: Timestamp

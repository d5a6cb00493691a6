"""Events on `agent.events`, written by intake."""

from typing import ClassVar, Literal

from pydantic import Field

from shared.events.base import EventData, SupportTier, Timestamp
from shared.topics import Topic

Presence = Literal["online", "away", "offline"]


class AgentStatusChanged(EventData):
    event_type: ClassVar[str] = "kefu.agent.status_changed"
    topic: ClassVar[Topic] = Topic.AGENT_EVENTS
    subject_field: ClassVar[str] = "agent_id"
    agent_id: str
    status: Presence
    skills: list[str]
    capacity: int = Field(ge=0)
    tier: SupportTier
    at: Timestamp

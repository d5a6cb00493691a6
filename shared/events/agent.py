"""Events on `agent.events`, written by intake (and by the router: a transfer that fell back)."""

from typing import ClassVar, Literal

from pydantic import Field

from kefu.shared.events.base import EventData, SupportTier, Timestamp
from kefu.shared.topics import Topic

Presence = Literal["online", "away", "offline"]


class AgentEvent(EventData):
    topic: ClassVar[Topic] = Topic.AGENT_EVENTS
    subject_field: ClassVar[str] = "agent_id"
    agent_id: str


class AgentStatusChanged(AgentEvent):
    event_type: ClassVar[str] = "kefu.agent.status_changed"
    status: Presence
    skills: list[str]
    capacity: int = Field(ge=0)
    tier: SupportTier
    at: Timestamp


class AgentCommandRefused(AgentEvent):
    """An agent's command intake did not carry out, and why (it is also in the DLQ)."""

    event_type: ClassVar[str] = "kefu.agent.command_refused"
    command_id: str
    action: str = Field(description="the command's action, as sent")
    ticket_id: str | None = Field(description="the ticket the command named, if any")
    reason: str
    at: Timestamp


class TransferFellBack(AgentEvent):
    """The agent named by a transfer did not take the ticket within `routing.transfer_wait`:
    told to the agent who transferred it (`agent_id`), written by the router."""

    event_type: ClassVar[str] = "kefu.agent.transfer_fell_back"
    ticket_id: str
    to_agent_id: str = Field(description="the agent the transfer named")
    waited_ms: int = Field(ge=0)
    at: Timestamp

"""What outside producers write to `channel.inbound` and `agent.inbound` (contract 2)."""

from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.events.agent import Presence
from shared.events.base import Channel, CustomerTier, Priority, SupportTier


class _Inbound(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_by_name=True)


class Sender(_Inbound):
    address: str = Field(min_length=1, max_length=320, description="email, E.164 phone or handle")
    name: str | None = Field(None, max_length=256)


class Thread(_Inbound):
    conversation_id: str | None = Field(None, max_length=256, description="chat conversation")
    in_reply_to: str | None = Field(None, max_length=998, description="email In-Reply-To")
    references: list[str] = Field(default_factory=list, description="email References")


class Attachment(_Inbound):
    filename: str
    content_type: str
    size: int = Field(ge=0)
    url: str


class ChannelMessage(_Inbound):
    """A customer message from any channel adapter."""

    channel: Channel
    message_id: str = Field(
        min_length=1, max_length=256, description="(channel, message_id) dedupes"
    )
    sender: Sender = Field(alias="from")
    text: str = Field(max_length=100_000, description="plain-text body; may be empty for voice")
    received_at: AwareDatetime | None = Field(None, description="default: when intake read it")
    customer_id: str | None = None
    customer_tier: CustomerTier = "standard"
    subject: str | None = Field(None, max_length=998)
    thread: Thread | None = None
    locale: str | None = Field(None, max_length=35, description="BCP 47; default from config")
    attachments: list[Attachment] = Field(default_factory=list)
    meta: dict[str, Any] = Field(default_factory=dict, description="channel extras, kept as-is")

    @property
    def dedupe_key(self) -> str:
        return f"{self.channel}:{self.message_id}"


class _Command(_Inbound):
    agent_id: str = Field(min_length=1, max_length=128)
    command_id: str = Field(min_length=1, max_length=256, description="dedupe key")


class PresenceCommand(_Inbound):
    action: Literal["presence"]
    agent_id: str = Field(min_length=1, max_length=128)
    command_id: str | None = Field(None, max_length=256)
    status: Presence
    skills: list[str] = Field(default_factory=list)
    capacity: int = Field(ge=0)
    tier: SupportTier = 1


class ReplyCommand(_Command):
    action: Literal["reply"]
    ticket_id: str
    text: str = Field(max_length=100_000)
    public: bool = True


class NoteCommand(_Command):
    action: Literal["note"]
    ticket_id: str
    text: str = Field(max_length=100_000)


class SetStatusCommand(_Command):
    action: Literal["set_status"]
    ticket_id: str
    status: Literal["open", "pending", "on_hold", "solved", "closed"]


class SetPriorityCommand(_Command):
    action: Literal["set_priority"]
    ticket_id: str
    priority: Priority


class TransferCommand(_Command):
    action: Literal["transfer"]
    ticket_id: str
    to_agent_id: str | None = None
    to_skill: str | None = None
    reason: str | None = None


class EscalateCommand(_Command):
    action: Literal["escalate"]
    ticket_id: str
    reason: str | None = None


AgentCommand = Annotated[
    PresenceCommand
    | ReplyCommand
    | NoteCommand
    | SetStatusCommand
    | SetPriorityCommand
    | TransferCommand
    | EscalateCommand,
    Field(discriminator="action"),
]

__all__ = ["AgentCommand", "ChannelMessage"]

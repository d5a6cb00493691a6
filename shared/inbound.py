"""What outside producers write to `channel.inbound` and `agent.inbound` (contract 2)."""

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from kefu.shared.durations import format_duration
from kefu.shared.events.agent import Presence
from kefu.shared.events.base import Channel, CustomerTier, Priority, SupportTier, utc_now
from kefu.shared.identifiers import Identifier
from kefu.shared.settings import Settings
from kefu.shared.topics import Topic


@dataclass(frozen=True)
class TimeBounds:
    """How far from intake's clock a time an outside producer gives may be (contract 11):
    a message dated far back would breach its SLA at once and escalate."""

    max_skew: timedelta  # ahead: KEFU_MAX_CLOCK_SKEW
    max_backdate: timedelta  # behind: KEFU_MAX_BACKDATE
    now: Callable[[], datetime] = field(default=utc_now, compare=False)

    @classmethod
    def of(cls, settings: Settings) -> "TimeBounds":
        return cls(settings.max_clock_skew, settings.max_backdate)

    def check(self, instant: datetime) -> datetime:
        now = self.now()
        if instant > now + self.max_skew:
            ahead = format_duration(self.max_skew)
            raise ValueError(f"more than {ahead} ahead of kefu's clock (KEFU_MAX_CLOCK_SKEW)")
        if instant < now - self.max_backdate:
            back = format_duration(self.max_backdate)
            raise ValueError(f"more than {back} in the past (KEFU_MAX_BACKDATE)")
        return instant


def _bounded(instant: datetime | None, info: ValidationInfo) -> datetime | None:
    """Times are checked against the bounds the decoder passes in its context."""
    bounds = (info.context or {}).get("bounds")
    if instant is None or bounds is None:
        return instant
    try:
        return bounds.check(instant)
    except ValueError as error:
        raise PydanticCustomError("time_out_of_bounds", str(error)) from None


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
    """Metadata of a file the adapter stores; kefu never carries the bytes."""

    filename: str = Field(max_length=1024)
    content_type: str = Field(max_length=255)
    size: int = Field(ge=0, description="bytes")
    url: str = Field(max_length=4096)


def email_address(address: str) -> str:
    """The address as email-validator normalises it (domain lower-cased)."""
    try:
        return validate_email(address, check_deliverability=False).normalized
    except EmailNotValidError as error:
        raise ValueError(f"not a valid email address: {error}") from None


def phone_number(address: str) -> str:
    """The number in E.164 (`+8613800138000`); spaces and dashes in the input are fine."""
    hint = "must be an E.164 phone number such as +8613800138000"
    try:
        number = phonenumbers.parse(address, None)
    except phonenumbers.NumberParseException as error:
        raise ValueError(f"{hint}: {error}") from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError(f"{hint}: no such number is in use")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def handle(address: str) -> str:
    if not address.strip():
        raise ValueError("must not be blank")
    return address.strip()


SENDER_RULES: dict[str, Callable[[str], str]] = {
    "email": email_address,
    "webform": email_address,
    "sms": phone_number,
    "voice": phone_number,
    "chat": handle,
    "social": handle,
}


def _addressed(party: Any, rule: Callable[[str], str], where: tuple[str | int, ...]) -> Any:
    """`party` with its address normalised by `rule`; a bad address is an error at
    `where` + `address`, so a 422 and the DLQ name the field (`from.address`, `cc.1.address`)."""
    if not (isinstance(party, dict) and isinstance(party.get("address"), str)):
        return party  # the model itself says what is missing
    try:
        return {**party, "address": rule(party["address"])}
    except ValueError as error:
        problem = PydanticCustomError("value_error", "{reason}", {"reason": str(error)})
        detail = InitErrorDetails(type=problem, loc=(*where, "address"), input=party["address"])
        raise ValidationError.from_exception_data("ChannelMessage", [detail]) from None


MAX_CC = 48


class ChannelMessage(_Inbound):
    """A customer message from any channel adapter."""

    channel: Channel
    message_id: str = Field(
        min_length=1, max_length=256, description="(channel, message_id) dedupes"
    )
    sender: Sender = Field(alias="from")
    text: str = Field(max_length=100_000, description="plain-text body; may be empty for voice")
    received_at: AwareDatetime | None = Field(None, description="default: when intake read it")
    customer_id: Identifier | None = None
    customer_tier: CustomerTier = "standard"
    subject: str | None = Field(None, max_length=998)
    thread: Thread | None = None
    locale: str | None = Field(None, max_length=35, description="BCP 47; default from config")
    attachments: list[Attachment] = Field(default_factory=list)
    meta: dict[str, Any] = Field(default_factory=dict, description="channel extras, kept as-is")
    cc: list[Sender] = Field(
        default_factory=list,
        max_length=MAX_CC,
        description="email: the message's other recipients (Cc); they become known on its "
        "ticket, so their replies with the ticket's [#id] token join it",
    )

    _received_in_bounds = field_validator("received_at")(_bounded)

    @field_validator("sender", mode="before")
    @classmethod
    def _sender_fits_channel(cls, sender: Any, info: ValidationInfo) -> Any:
        """`from.address` by the channel's rule (email, E.164, handle), normalised."""
        rule = SENDER_RULES.get(info.data.get("channel", ""))
        return _addressed(sender, rule, ()) if rule else sender

    @field_validator("cc", mode="before")
    @classmethod
    def _cc_are_addresses(cls, cc: Any, info: ValidationInfo) -> Any:
        """CCs are email addresses, normalised like `from.address`."""
        if not isinstance(cc, list) or info.data.get("channel") not in ("email", "webform"):
            return cc
        return [_addressed(party, email_address, (index,)) for index, party in enumerate(cc)]

    @model_validator(mode="after")
    def _chat_has_conversation(self) -> "ChannelMessage":
        if self.channel == "chat" and not (self.thread and self.thread.conversation_id):
            raise ValueError("thread.conversation_id is required for chat messages")
        return self

    @property
    def dedupe_key(self) -> str:
        return f"{self.channel}:{self.message_id}"

    def partition_key(self) -> str:
        """channel + ":" + thread or sender, so one conversation's messages stay in order;
        the address in lower case, so `Bob@Example.COM` and `bob@example.com` share a
        partition."""
        conversation = self.thread.conversation_id if self.thread else None
        return f"{self.channel}:{conversation or self.sender.address.lower()}"


class _Command(_Inbound):
    agent_id: Identifier
    command_id: Identifier = Field(description="dedupe key")


class _TicketCommand(_Command):
    ticket_id: Identifier


class PresenceCommand(_Inbound):
    action: Literal["presence"]
    agent_id: Identifier
    command_id: Identifier | None = None
    status: Presence
    skills: list[Identifier] = Field(default_factory=list)
    capacity: int = Field(ge=0)
    tier: SupportTier = 1


class ReplyCommand(_TicketCommand):
    action: Literal["reply"]
    text: str = Field(max_length=100_000)
    public: bool = True


class NoteCommand(_TicketCommand):
    action: Literal["note"]
    text: str = Field(max_length=100_000)


class SetStatusCommand(_TicketCommand):
    action: Literal["set_status"]
    status: Literal["open", "pending", "on_hold", "solved", "closed"]


class SetPriorityCommand(_TicketCommand):
    action: Literal["set_priority"]
    priority: Priority


class TransferCommand(_TicketCommand):
    action: Literal["transfer"]
    to_agent_id: Identifier | None = None
    to_skill: Identifier | None = None
    reason: str | None = None

    @model_validator(mode="after")
    def _has_target(self) -> "TransferCommand":
        if not (self.to_agent_id or self.to_skill):
            raise ValueError("a transfer needs to_agent_id or to_skill")
        return self


class EscalateCommand(_TicketCommand):
    action: Literal["escalate"]
    reason: str | None = None


MAX_CATEGORY_LEVEL = 64
CategoryLevel = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_CATEGORY_LEVEL)
]


class SetCategoryCommand(_TicketCommand):
    action: Literal["set_category"]
    category: list[CategoryLevel] = Field(
        min_length=3,
        max_length=3,
        description="[l1, l2, l3]: one of the policy's categories or any three non-blank "
        "strings of at most 64 characters (surrounding spaces are dropped)",
    )


class MergeCommand(_TicketCommand):
    action: Literal["merge"]
    into_ticket_id: Identifier = Field(
        description="the ticket `ticket_id` is merged into: both open (not solved or "
        "closed), the same customer's or linked by `related_to`; `ticket_id` is closed",
    )


TicketCommand = (
    ReplyCommand
    | NoteCommand
    | SetStatusCommand
    | SetPriorityCommand
    | TransferCommand
    | EscalateCommand
    | SetCategoryCommand
    | MergeCommand
)
AgentCommand = Annotated[PresenceCommand | TicketCommand, Field(discriminator="action")]
_AGENT_COMMAND: TypeAdapter[Any] = TypeAdapter(AgentCommand)


def inbound_schema(topic: Topic) -> Any:
    """What outside producers write to an inbound topic, for the AsyncAPI document."""
    return {Topic.CHANNEL_INBOUND: ChannelMessage, Topic.AGENT_INBOUND: AgentCommand}[topic]


def parse_json(raw: bytes) -> Any:
    """Strict UTF-8 JSON (json.loads alone would also guess UTF-16 and UTF-32)."""
    text = raw.decode("utf-8")
    try:
        return json.loads(text)
    except RecursionError:
        raise json.JSONDecodeError("nested too deeply", text, 0) from None


def decode_channel_message(raw: bytes, bounds: TimeBounds) -> ChannelMessage:
    return ChannelMessage.model_validate(parse_json(raw), context={"bounds": bounds})


def decode_agent_command(raw: bytes) -> PresenceCommand | TicketCommand:
    return _AGENT_COMMAND.validate_python(parse_json(raw))


__all__ = [
    "AgentCommand",
    "ChannelMessage",
    "TimeBounds",
    "decode_agent_command",
    "decode_channel_message",
]

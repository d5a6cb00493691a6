"""Threading (contract 2.1), pure: which ticket, if any, a customer message belongs to.

A message joins the ticket that
- (email) holds the message its `in_reply_to` or any of its `references` names, or whose token
  `[#<ticket_id>]` is in the subject; In-Reply-To is the most specific, then References
  newest first, then the token;
- (chat) has its `conversation_id` (the newest such ticket);
- (sms, voice, social) is the newest ticket from the same address on the same channel, when
  that ticket was updated within the threading window before the message was received.
A matched `solved` ticket is reopened; a matched `closed` one gets a follow-up ticket that
links it. Web forms, and messages that match nothing, open a new ticket.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.events import CloudEvent, decode_event
from shared.events.base import Channel, Priority, SupportTier, TicketStatus
from shared.inbound import ChannelMessage

SENDER_THREADED: set[Channel] = {"sms", "voice", "social"}
TICKET_TOKEN = re.compile(r"\[#([A-Za-z0-9_-]{1,64})\]")
OUTBOX_SIZE = 20


class Held(BaseModel):
    """The events decided for one input, kept on the ticket until they are surely published."""

    key: str
    events: list[str]


class Conversation(BaseModel):
    """Intake's state of one ticket: what later messages thread against and commands check."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, serialize_by_alias=True)

    ticket_id: str = Field(alias="_id")
    number: int
    status: TicketStatus
    channel: Channel
    customer_address: str
    sender: str = Field(description="channel:address")
    conversation: str | None = Field(None, description="chat:conversation_id")
    message_refs: list[str] = Field(description="channel:message_id of every message")
    priority: Priority
    tier: SupportTier
    updated_at: datetime
    version: int = 1
    outbox: list[Held] = Field(default_factory=list)

    def document(self) -> dict[str, Any]:
        return self.model_dump()

    def held_events(self, key: str) -> list[CloudEvent[Any]] | None:
        held = next((entry for entry in self.outbox if entry.key == key), None)
        return [decode_event(raw) for raw in held.events] if held else None

    def holding(self, key: str, events: Sequence[CloudEvent[Any]]) -> "Conversation":
        entry = Held(key=key, events=[event.model_dump_json() for event in events])
        return self.model_copy(update={"outbox": [*self.outbox, entry][-OUTBOX_SIZE:]})


@dataclass(frozen=True)
class ThreadKeys:
    """What to look a message's ticket up by; empty fields are not looked up."""

    message_refs: tuple[str, ...] = ()
    ticket_token: str | None = None
    conversation: str | None = None
    sender: str | None = None


@dataclass(frozen=True)
class NewTicket:
    follow_up_of: str | None = None


@dataclass(frozen=True)
class JoinTicket:
    ticket: Conversation
    reopens: bool


def message_ref(channel: Channel, message_id: str) -> str:
    """Email Message-IDs compare without their angle brackets and surrounding space."""
    if channel == "email":
        message_id = message_id.strip().strip("<>").strip()
    return f"{channel}:{message_id}"


def sender_key(channel: Channel, address: str) -> str:
    return f"{channel}:{address}"


def thread_keys(message: ChannelMessage) -> ThreadKeys:
    channel, thread = message.channel, message.thread
    if channel == "email":
        named = [thread.in_reply_to] if thread and thread.in_reply_to else []
        for reference in reversed(thread.references if thread else []):
            named.extend(reversed(reference.split()))
        token = TICKET_TOKEN.search(message.subject or "")
        return ThreadKeys(
            message_refs=tuple(dict.fromkeys(message_ref("email", ref) for ref in named)),
            ticket_token=token.group(1) if token else None,
        )
    if channel == "chat" and thread and thread.conversation_id:
        return ThreadKeys(conversation=f"chat:{thread.conversation_id}")
    if channel in SENDER_THREADED:
        return ThreadKeys(sender=sender_key(channel, message.sender.address))
    return ThreadKeys()


def matched_ticket(
    keys: ThreadKeys, tickets: Sequence[Conversation], received_at: datetime, window: timedelta
) -> Conversation | None:
    for ref in keys.message_refs:
        if found := next((t for t in tickets if ref in t.message_refs), None):
            return found
    if keys.ticket_token and (
        found := next((t for t in tickets if t.ticket_id == keys.ticket_token), None)
    ):
        return found
    if keys.conversation:
        return newest(t for t in tickets if t.conversation == keys.conversation)
    if keys.sender:
        latest = newest(t for t in tickets if t.sender == keys.sender)
        if latest and received_at - latest.updated_at <= window:
            return latest
    return None


def newest(tickets: Any) -> Conversation | None:
    return max(tickets, key=lambda ticket: ticket.number, default=None)


def choose_thread(
    keys: ThreadKeys, tickets: Sequence[Conversation], received_at: datetime, window: timedelta
) -> NewTicket | JoinTicket:
    ticket = matched_ticket(keys, tickets, received_at, window)
    if ticket is None:
        return NewTicket()
    if ticket.status == "closed":
        return NewTicket(follow_up_of=ticket.ticket_id)
    return JoinTicket(ticket, reopens=ticket.status == "solved")

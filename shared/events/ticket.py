"""Events on `ticket.events`, written by intake."""

from typing import ClassVar

from pydantic import BaseModel, Field

from kefu.shared.events.base import (
    Channel,
    CustomerTier,
    EventData,
    Priority,
    SupportTier,
    TicketStatus,
    Timestamp,
)
from kefu.shared.topics import Topic


class Customer(BaseModel):
    id: str | None = Field(None, description="the adapter's customer id, if known")
    address: str = Field(description="email address, E.164 phone or handle")
    name: str | None = None
    tier: CustomerTier = "standard"


class Party(BaseModel):
    address: str
    name: str | None = None


class Attachment(BaseModel):
    """Metadata of a file a customer sent, as the channel adapter gave it (never the bytes)."""

    filename: str
    content_type: str
    size: int = Field(description="bytes")
    url: str = Field(description="where the adapter stored the file")


class TicketEvent(EventData):
    topic: ClassVar[Topic] = Topic.TICKET_EVENTS
    ticket_id: str


class TicketOpened(TicketEvent):
    event_type: ClassVar[str] = "kefu.ticket.opened"
    channel: Channel
    customer: Customer
    subject: str | None = None
    priority: Priority
    category: list[str] = Field(min_length=3, max_length=3, description="[l1, l2, l3]")
    skills: list[str]
    tier: SupportTier = 1
    locale: str
    first_message_id: str
    follow_up_of: str | None = Field(None, description="the closed ticket this one follows")
    related_to: str | None = Field(
        None,
        description="a ticket the message named by its [#id] token but could not join (the "
        "sender is not one policy `threading.token_senders` allows); an agent may merge them",
    )
    opened_at: Timestamp


class MessageReceived(TicketEvent):
    event_type: ClassVar[str] = "kefu.ticket.message_received"
    message_id: str
    channel: Channel
    sender: Party = Field(alias="from", serialization_alias="from")
    text: str
    received_at: Timestamp
    attachments: list[Attachment] = Field(
        default_factory=list, description="the message's attachments as received (metadata)"
    )
    survey_id: str | None = Field(
        None,
        description="the survey this message answers (an SMS reply that is a bare score); "
        "intake does not reopen the ticket for it",
    )


class AgentReplied(TicketEvent):
    event_type: ClassVar[str] = "kefu.ticket.agent_replied"
    agent_id: str
    command_id: str
    public: bool = True
    text: str = Field("", description="the reply; notify sends it to the customer")
    on_behalf: str | None = Field(
        None,
        description="the ticket's assignee, when a public reply came from another agent "
        "(null when the assignee replied or nobody is assigned)",
    )
    replied_at: Timestamp


class NoteAdded(TicketEvent):
    event_type: ClassVar[str] = "kefu.ticket.note_added"
    agent_id: str
    command_id: str
    text: str = Field("", description="internal; never sent to the customer")
    at: Timestamp


class StatusChanged(TicketEvent):
    event_type: ClassVar[str] = "kefu.ticket.status_changed"
    from_status: TicketStatus = Field(alias="from", serialization_alias="from")
    to: TicketStatus
    by: str = Field(description="agent_id or `system`")
    at: Timestamp
    reason: str | None = Field(
        None,
        description="why, when the change follows from something else: `merged` when a merge "
        "closed the ticket (kefu.ticket.merged comes first); null otherwise",
    )


class PriorityChanged(TicketEvent):
    event_type: ClassVar[str] = "kefu.ticket.priority_changed"
    from_priority: Priority = Field(alias="from", serialization_alias="from")
    to: Priority
    by: str
    at: Timestamp


class CategoryChanged(TicketEvent):
    event_type: ClassVar[str] = "kefu.ticket.category_changed"
    from_category: list[str] | None = Field(
        alias="from",
        serialization_alias="from",
        description="[l1, l2, l3] before; null for a ticket intake opened before it kept them",
    )
    to: list[str] = Field(min_length=3, max_length=3, description="[l1, l2, l3]")
    agent_id: str
    at: Timestamp


class TicketMerged(TicketEvent):
    event_type: ClassVar[str] = "kefu.ticket.merged"
    into_ticket_id: str = Field(
        description="the ticket the conversation goes on in; the merged ticket (`ticket_id`) "
        "is closed next (kefu.ticket.status_changed, reason `merged`), and later customer "
        "messages that thread to it join this one"
    )
    agent_id: str
    at: Timestamp


class Reopened(TicketEvent):
    event_type: ClassVar[str] = "kefu.ticket.reopened"
    by: str
    at: Timestamp


class TransferRequested(TicketEvent):
    event_type: ClassVar[str] = "kefu.ticket.transfer_requested"
    from_agent_id: str | None = Field(description="the assignee the ticket leaves, if any")
    by: str | None = Field(None, description="the agent who asked for the transfer")
    to_agent_id: str | None
    to_skill: str | None
    reason: str | None
    at: Timestamp


class Escalated(TicketEvent):
    event_type: ClassVar[str] = "kefu.ticket.escalated"
    from_tier: SupportTier
    to_tier: SupportTier
    reason: str | None
    by: str
    at: Timestamp

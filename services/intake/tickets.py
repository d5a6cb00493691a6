"""Pure decisions: the events a customer message turns into, and the ticket state after them.

Event ids derive from the message's dedupe key (`intake:email:<message_id>:opened`), so a
retry decides the same ids; the correlation id is the dedupe key itself.
"""

from datetime import datetime
from typing import Any

from kefu.services.intake.classify import Classified
from kefu.services.intake.conversation import Conversation, JoinTicket, OpenSurvey, message_ref
from kefu.shared.events import CloudEvent, new_event
from kefu.shared.events.base import EventData
from kefu.shared.events.notify import CUSTOMER_CHANNEL
from kefu.shared.events.routing import RoutingEvent, TicketAssigned, TicketUnassigned
from kefu.shared.events.survey import SurveyEvent, SurveyIssued
from kefu.shared.events.ticket import (
    Attachment,
    Customer,
    MessageReceived,
    Party,
    Reopened,
    StatusChanged,
    TicketOpened,
)
from kefu.shared.inbound import ChannelMessage

SOURCE = "kefu/intake"
REOPENED_BY = "customer"


def intake_event(data: EventData, cause: str, suffix: str, now: datetime) -> CloudEvent[Any]:
    return new_event(
        data, id=f"intake:{cause}:{suffix}", source=SOURCE, correlationid=cause, time=now
    )


def received(
    message: ChannelMessage, ticket_id: str, now: datetime, survey_id: str | None = None
) -> CloudEvent[Any]:
    data = MessageReceived(
        ticket_id=ticket_id,
        message_id=message.message_id,
        channel=message.channel,
        sender=Party(address=message.sender.address, name=message.sender.name),
        text=message.text,
        received_at=message.received_at or now,
        attachments=[Attachment(**kept.model_dump()) for kept in message.attachments],
        survey_id=survey_id,
    )
    return intake_event(data, message.dedupe_key, "message", now)


def opening_events(
    message: ChannelMessage,
    ticket_id: str,
    classified: Classified,
    now: datetime,
    *,
    locale: str,
    follow_up_of: str | None = None,
    related_to: str | None = None,
) -> list[CloudEvent[Any]]:
    """`ticket.opened` then `ticket.message_received`."""
    opened = TicketOpened(
        ticket_id=ticket_id,
        channel=message.channel,
        customer=Customer(
            id=message.customer_id,
            address=message.sender.address,
            name=message.sender.name,
            tier=message.customer_tier,
        ),
        subject=message.subject,
        priority=classified.priority,
        category=classified.category,
        skills=classified.skills,
        tier=classified.tier,
        locale=message.locale or locale,
        first_message_id=message.message_id,
        follow_up_of=follow_up_of,
        related_to=related_to,
        opened_at=message.received_at or now,
    )
    return [
        intake_event(opened, message.dedupe_key, "opened", now),
        received(message, ticket_id, now),
    ]


def opened_conversation(message: ChannelMessage, opened: TicketOpened) -> Conversation:
    """The state of a ticket a message has just opened; its CCs are known on it."""
    opening = Conversation(
        ticket_id=opened.ticket_id,
        status="new",
        channel=opened.channel,
        customer_address=opened.customer.address,
        first_ref=message_ref(message.channel, message.message_id),
        priority=opened.priority,
        tier=opened.tier,
        updated_at=opened.opened_at,
        customer_id=opened.customer.id,
        category=tuple(opened.category),
        related_to=opened.related_to,
    )
    return opening.model_copy(update={"known": opening.knowing(cc.address for cc in message.cc)})


def joining_events(
    message: ChannelMessage, choice: JoinTicket, now: datetime
) -> list[CloudEvent[Any]]:
    """(`ticket.reopened`,) `ticket.message_received`(, `status_changed` pending → open); a
    survey reply is the message alone, marked with its survey."""
    cause, ticket, ticket_id = message.dedupe_key, choice.ticket, choice.ticket.ticket_id
    if choice.answers:
        return [received(message, ticket_id, now, choice.answers)]
    at = message.received_at or now
    events = (
        [intake_event(Reopened(ticket_id=ticket_id, by=REOPENED_BY, at=at), cause, "reopened", now)]
        if choice.reopens
        else []
    )
    events.append(received(message, ticket_id, now))
    if ticket.status == "pending":
        answered = StatusChanged(
            ticket_id=ticket_id, from_status="pending", to="open", by="system", at=at
        )
        events.append(intake_event(answered, cause, "status", now))
    return events


def joined(choice: JoinTicket, message: ChannelMessage, now: datetime) -> Conversation:
    """The ticket after a customer message joined it: solved and pending tickets are open,
    the message's CCs are known, and so is its sender when it joined by the thread's
    headers; a survey reply changes nothing (survey.events closes the survey)."""
    ticket, received_at = choice.ticket, message.received_at or now
    if choice.answers:
        return ticket
    on_thread = [message.sender.address] if choice.on_thread else []
    return ticket.model_copy(
        update={
            "status": "open" if ticket.status in ("solved", "pending") else ticket.status,
            "updated_at": max(ticket.updated_at, received_at),
            "known": ticket.knowing([*on_thread, *(cc.address for cc in message.cc)]),
        }
    )


FOLLOWED = (SurveyEvent, TicketAssigned, TicketUnassigned)  # what `followed` may act on


def followed(ticket: Conversation, data: SurveyEvent | RoutingEvent) -> Conversation:
    """The ticket after an event intake follows: a survey issued to a customer reached by
    SMS is open to SMS replies until it is answered or expires (others are answered on
    their page: nothing to keep); the agent routing assigned is the ticket's assignee until
    it is unassigned."""
    match data:
        case SurveyIssued() if CUSTOMER_CHANNEL.get(ticket.channel) == "sms":
            survey = OpenSurvey(
                survey_id=data.survey_id, kind=data.kind, expires_at=data.expires_at
            )
            return ticket.model_copy(update={"survey": survey})
        case SurveyEvent() if ticket.survey and ticket.survey.survey_id == data.survey_id:
            return ticket.model_copy(update={"survey": None})
        case TicketAssigned():
            return ticket.model_copy(update={"assignee": data.agent_id})
        case TicketUnassigned() if ticket.assignee == data.agent_id:
            return ticket.model_copy(update={"assignee": None})
    return ticket

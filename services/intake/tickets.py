"""Pure decisions: what a customer message that opens a ticket turns into."""

from datetime import datetime
from typing import Any

from shared.events import CloudEvent, new_event
from shared.events.ticket import Customer, MessageReceived, Party, TicketOpened
from shared.inbound import ChannelMessage
from shared.policy import Classification

SOURCE = "kefu/intake"
DEFAULT_LOCALE = "en"


def opening_events(
    message: ChannelMessage,
    ticket_id: str,
    classification: Classification,
    now: datetime,
) -> list[CloudEvent[TicketOpened | MessageReceived]]:
    """`ticket.opened` then `ticket.message_received`, with ids derived from the message."""
    received_at = message.received_at or now
    default = classification.default
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
        priority=default.priority,
        category=default.category,
        skills=default.skills,
        tier=default.tier,
        locale=message.locale or DEFAULT_LOCALE,
        first_message_id=message.message_id,
        opened_at=received_at,
    )
    received = MessageReceived(
        ticket_id=ticket_id,
        message_id=message.message_id,
        channel=message.channel,
        sender=Party(address=message.sender.address, name=message.sender.name),
        text=message.text,
        received_at=received_at,
    )
    cause = message.dedupe_key
    return [
        new_event(
            opened, id=f"intake:{cause}:opened", source=SOURCE, correlationid=cause, time=now
        ),
        new_event(
            received, id=f"intake:{cause}:message", source=SOURCE, correlationid=cause, time=now
        ),
    ]


def conversation(opened: TicketOpened) -> dict[str, Any]:
    """The state later messages of this ticket are threaded against."""
    return {
        "_id": opened.ticket_id,
        "status": "new",
        "channel": opened.channel,
        "customer_address": opened.customer.address,
        "subject": opened.subject,
        "message_ids": [opened.first_message_id],
        "updated_at": opened.opened_at,
    }

"""The ticket and routing events the sla and survey services read, for tests of every layer."""

from datetime import datetime
from itertools import count
from typing import Any

from kefu.shared.events import CloudEvent, new_event
from kefu.shared.events.base import EventData
from kefu.shared.events.routing import TicketAssigned
from kefu.shared.events.sla import SlaEscalated
from kefu.shared.events.ticket import (
    AgentReplied,
    CategoryChanged,
    Customer,
    MessageReceived,
    Party,
    PriorityChanged,
    Reopened,
    StatusChanged,
    TicketMerged,
    TicketOpened,
)

_ids = count(1)
ESCALATING = {  # a policy file's `sla` with a two-step escalation chain
    "policies": [
        {
            "name": "p1",
            "targets": {"first_response": "15m"},
            "escalation": [
                {"at": "breach", "notify": ["supervisor"]},
                {"at": "breach+30m", "notify": ["manager"]},
            ],
        }
    ]
}


def event(data: EventData, at: datetime) -> CloudEvent[Any]:
    return new_event(
        data,
        id=f"test:{next(_ids)}",
        source="tests",
        correlationid=f"c:{data.event_subject()}",
        time=at,
    )


def opened(ticket: str, at: datetime, priority: str = "P3", **fields: Any) -> CloudEvent[Any]:
    data = {
        "ticket_id": ticket,
        "channel": "email",
        "customer": Customer(
            address="jane@example.com", tier=fields.pop("customer_tier", "standard")
        ),
        "priority": priority,
        "category": ["general", "inquiry", "other"],
        "skills": ["general"],
        "locale": "en",
        "first_message_id": f"{ticket}-m0",
        "opened_at": at,
        **fields,
    }
    return event(TicketOpened(**data), at)


def customer_wrote(
    ticket: str,
    at: datetime,
    message_id: str | None = None,
    *,
    text: str = "any news?",
    channel: str = "email",
    survey_id: str | None = None,
) -> CloudEvent[Any]:
    data = MessageReceived(
        ticket_id=ticket,
        message_id=message_id or f"{ticket}-m{next(_ids)}",
        channel=channel,
        sender=Party(address="jane@example.com" if channel == "email" else "+8613800138000"),
        text=text,
        received_at=at,
        survey_id=survey_id,
    )
    return event(data, at)


def replied(ticket: str, at: datetime, public: bool = True) -> CloudEvent[Any]:
    data = AgentReplied(
        ticket_id=ticket,
        agent_id="a1",
        command_id=f"cmd-{next(_ids)}",
        public=public,
        replied_at=at,
    )
    return event(data, at)


def status(
    ticket: str, before: str, after: str, at: datetime, reason: str | None = None
) -> CloudEvent[Any]:
    data = StatusChanged(
        ticket_id=ticket, from_status=before, to=after, by="a1", at=at, reason=reason
    )
    return event(data, at)


def category(
    ticket: str, after: list[str], at: datetime, before: list[str] | None = None
) -> CloudEvent[Any]:
    data = CategoryChanged(
        ticket_id=ticket,
        from_category=before or ["general", "inquiry", "other"],
        to=after,
        agent_id="a1",
        at=at,
    )
    return event(data, at)


def merged(ticket: str, into: str, at: datetime, before: str = "open") -> list[CloudEvent[Any]]:
    """What intake writes for a merge: merged, then the ticket closed with reason `merged`."""
    data = TicketMerged(ticket_id=ticket, into_ticket_id=into, agent_id="a1", at=at)
    return [event(data, at), status(ticket, before, "closed", at, reason="merged")]


def priority(ticket: str, before: str, after: str, at: datetime) -> CloudEvent[Any]:
    data = PriorityChanged(ticket_id=ticket, from_priority=before, to=after, by="a1", at=at)
    return event(data, at)


def reopened(ticket: str, at: datetime) -> CloudEvent[Any]:
    return event(Reopened(ticket_id=ticket, by="customer", at=at), at)


def assigned(ticket: str, agent: str, at: datetime) -> CloudEvent[Any]:
    data = TicketAssigned(
        ticket_id=ticket, agent_id=agent, strategy="least_loaded", tier=1, waited_ms=0, at=at
    )
    return event(data, at)


def escalated(ticket: str, level: int, roles: list[str], at: datetime) -> CloudEvent[Any]:
    data = SlaEscalated(
        ticket_id=ticket, policy="p1", metric="first_response", level=level, notify=roles, at=at
    )
    return event(data, at)

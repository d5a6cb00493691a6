"""The router's view of a ticket, and what each event does to it, pure.

A ticket is `unopened` while the router knows only its SLA (`sla.started` read before
`ticket.opened`: two topics have no order between them), `waits` (in the queue) until an
agent takes it, is `assigned` while an agent holds it, and is `done` once solved or closed
(its slot is free). A reopen makes it wait again for its last owner; a transfer or an
escalation (by an agent, or an SLA step with `raise_tier`) gives it back
(`kefu.ticket.unassigned`) and makes it wait again, never for the agent it left. A transfer
to a named agent holds the ticket for that agent until `transfer_wait` runs out; then it is
let go to anyone (`transfer_fallback`). Each change says which agent's slot it frees and
whether the ticket must be routed. A waiting ticket's `wake_at` is when the router looks at
it again: the end of a transfer's hold, else when higher tiers may take it.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, computed_field

from kefu.services.router.choice import Need, lane, queue_rank
from kefu.shared.events.base import CustomerTier, Priority, Timestamp, rfc3339
from kefu.shared.events.sla import SlaBreached, SlaEscalated, SlaMet, SlaStarted, SlaWarning
from kefu.shared.events.ticket import (
    AgentReplied,
    CategoryChanged,
    Escalated,
    MessageReceived,
    NoteAdded,
    PriorityChanged,
    Reopened,
    StatusChanged,
    TicketMerged,
    TicketOpened,
    TransferRequested,
)

HIGHEST_TIER = 3


class RoutedTicket(BaseModel):
    model_config = ConfigDict(frozen=True)

    ticket_id: str
    status: Literal["unopened", "waiting", "assigned", "done"] = "waiting"
    skills: list[str] = []
    tier: int = 1
    priority: Priority = "P3"
    customer_tier: CustomerTier = "standard"
    customer: str | None = None  # the customer's address: whose first owner to prefer
    assignee: str | None = None
    last_assignee: str | None = None
    waiting_since: Timestamp | None = None
    due_at: Timestamp | None = None
    queue_rank: str = ""
    assignments: int = 0
    queued: int = 0  # how often it entered the queue (for event ids)
    preferred: str | None = None
    sticky: bool = False
    label: str | None = None
    avoid: str | None = None
    held_for: str | None = None  # a transfer's named agent, while the ticket waits for her
    transfer_from: str | None = None  # who asked for that transfer
    wake_at: str | None = None  # RFC 3339, compared as text

    @computed_field  # type: ignore[prop-decorator]
    @property
    def lane(self) -> str:
        """The queue is read by lane (choice.py; store.py keeps `<lane>|<rank>` indexed)."""
        return lane(self.skills, self.tier)

    def need(self, relaxed: bool = False) -> Need:
        return Need(
            ticket_id=self.ticket_id,
            skills=tuple(self.skills),
            tier=self.tier,
            preferred=self.preferred,
            sticky=self.sticky,
            held_for=self.held_for,
            label=self.label,
            avoid=self.avoid,
            relaxed=relaxed,
        )


@dataclass(frozen=True)
class Change:
    ticket: RoutedTicket
    frees: str | None = None  # the agent whose slot this frees
    unassigned: str | None = None  # the reason, when an assigned ticket is given back
    route: bool = False  # try to assign it now


def gone_from(ticket: RoutedTicket, agent_id: str) -> bool:
    """Whether an agent who holds `ticket` should let it go: another agent has it, or it is
    done. Waiting, it may be on its way to her."""
    return ticket.status == "done" or ticket.assignee not in (None, agent_id)


def ranked(ticket: RoutedTicket) -> RoutedTicket:
    since = rfc3339(ticket.waiting_since) if ticket.waiting_since else ""
    due = rfc3339(ticket.due_at) if ticket.due_at else None
    rank = queue_rank(ticket.customer_tier, ticket.priority, due, since, ticket.ticket_id)
    return ticket.model_copy(update={"queue_rank": rank})


def unopened(data: SlaStarted) -> RoutedTicket:
    """An SLA that started before the router read the ticket's `opened` (another topic)."""
    due = min((target.due_at for target in data.targets), default=None)
    return RoutedTicket(ticket_id=data.ticket_id, status="unopened", due_at=due)


def opened(data: TicketOpened, first_owner: str | None, due_at: datetime | None = None) -> Change:
    ticket = RoutedTicket(
        ticket_id=data.ticket_id,
        skills=data.skills,
        tier=data.tier,
        priority=data.priority,
        customer_tier=data.customer.tier,
        customer=data.customer.address.lower(),
        waiting_since=data.opened_at,
        due_at=due_at,
        preferred=first_owner,
        sticky=first_owner is not None,
    )
    return Change(ranked(ticket), route=True)


# ticket and SLA events that change no routed ticket, whatever its state (`changed`)
NEVER_ROUTED = (MessageReceived, AgentReplied, NoteAdded, CategoryChanged, TicketMerged)
NEVER_ROUTED_SLA = (SlaWarning, SlaBreached, SlaMet)


def routes(data: Any) -> bool:
    """Whether an event may change a routed ticket; those that never do are not worth a
    read or a write (and skipping them, unlike a change that a ticket's state makes
    nothing of, holds whatever order they are read again in)."""
    match data:
        case StatusChanged():
            return data.to in ("solved", "closed")
        case SlaEscalated():
            return data.raise_tier
    return not isinstance(data, NEVER_ROUTED + NEVER_ROUTED_SLA)


def changed(ticket: RoutedTicket, data: Any, at: datetime) -> Change:
    """What a ticket or SLA event does to a ticket the router knows."""
    match data:
        case StatusChanged(to="solved" | "closed"):
            done = ticket.model_copy(update={"status": "done", "assignee": None})
            return Change(done, frees=ticket.assignee)
        case Reopened() if ticket.status == "done":
            owner = ticket.last_assignee
            waiting = _waiting(ticket, at, preferred=owner, sticky=owner is not None)
            return Change(waiting, route=True)
        case PriorityChanged():
            return Change(ranked(ticket.model_copy(update={"priority": data.to})))
        case SlaStarted():
            due = min((target.due_at for target in data.targets), default=None)
            return Change(ranked(ticket.model_copy(update={"due_at": due})))
        case TransferRequested() if ticket.status != "done":
            skills = [data.to_skill] if data.to_skill else ticket.skills
            moved = ticket.model_copy(update={"skills": skills})
            held = {"held_for": data.to_agent_id, "transfer_from": data.from_agent_id}
            return _give_back(moved, at, "transfer", label="transfer", **held)
        case Escalated() if ticket.status != "done":
            return _give_back(ticket.model_copy(update={"tier": data.to_tier}), at, "escalation")
        case SlaEscalated(raise_tier=True) if ticket.status != "done":
            tier = min(ticket.tier + 1, HIGHEST_TIER)
            return _give_back(ticket.model_copy(update={"tier": tier}), at, "escalation")
    return Change(ticket)


def given_back(ticket: RoutedTicket, at: datetime) -> Change:
    """Its agent went offline: the ticket waits again, for anyone."""
    return _give_back(ticket, at, "agent_offline")


def _give_back(ticket: RoutedTicket, at: datetime, reason: str, **need: Any) -> Change:
    holder = ticket.assignee
    avoid = holder if reason != "agent_offline" else None
    waiting = _waiting(ticket, at, avoid=avoid, **need)
    return Change(waiting, frees=holder, unassigned=reason if holder else None, route=True)


def _waiting(ticket: RoutedTicket, at: datetime, **need: Any) -> RoutedTicket:
    values = {
        "preferred": None,
        "sticky": False,
        "label": None,
        "avoid": None,
        "held_for": None,
        "transfer_from": None,
        **need,
    }
    return ranked(
        ticket.model_copy(
            update={"status": "waiting", "assignee": None, "waiting_since": at, **values}
        )
    )


def assigned(ticket: RoutedTicket, agent_id: str) -> RoutedTicket:
    return ticket.model_copy(
        update={
            "status": "assigned",
            "assignee": agent_id,
            "last_assignee": agent_id,
            "assignments": ticket.assignments + 1,
            "wake_at": None,
            "held_for": None,
        }
    )


def entered_queue(
    ticket: RoutedTicket, relax_after: timedelta | None, transfer_wait: timedelta
) -> RoutedTicket:
    """The ticket waits: held for a transfer's agent until transfer_wait runs out, else (with
    relax_after) for its own tier until higher tiers may take it."""
    since = ticket.waiting_since
    if ticket.held_for and since:
        wake_at = rfc3339(since + transfer_wait)
    else:
        wake_at = rfc3339(since + relax_after) if relax_after and since else None
    return ticket.model_copy(update={"queued": ticket.queued + 1, "wake_at": wake_at})


def let_go(ticket: RoutedTicket) -> RoutedTicket:
    """The named agent did not take the transfer in time: anyone may, as a fallback."""
    return ticket.model_copy(update={"held_for": None, "label": "transfer_fallback"})

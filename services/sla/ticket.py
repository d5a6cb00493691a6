"""The sla service's view of a ticket, pure: the facts that choose its policy and the history
its clocks are computed from, folded from ticket and routing events.

Clocks are never kept as running counters: the ticket keeps when it opened, its status
transitions, its replies and its next-reply cycle, and services/sla/targets.py computes every
due time from that history under the policy that holds now. So a pause, a reopen or a policy
change (a new priority, tier or category) moves due times exactly, and nothing is lost or
counted twice. A ticket merged into another is closed without being resolved: its clocks
stop and nothing is met (the conversation's clocks run on in the target).

Times are kept to the millisecond (what the store keeps), so a due time computed before and
after a reload is the same instant, and so is every event id made from it.
"""

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from kefu.shared.events import CloudEvent
from kefu.shared.events.base import Channel, CustomerTier, Priority, TicketStatus, Timestamp
from kefu.shared.events.routing import TicketAssigned, TicketUnassigned
from kefu.shared.events.ticket import (
    AgentReplied,
    CategoryChanged,
    Escalated,
    MessageReceived,
    PriorityChanged,
    Reopened,
    StatusChanged,
    TicketMerged,
    TicketOpened,
)
from kefu.shared.sla_policy import Facts

DONE = ("solved", "closed")
HIGHEST_TIER = 3


def to_ms(instant: datetime) -> datetime:
    return instant.replace(microsecond=instant.microsecond // 1000 * 1000)


class Transition(BaseModel):
    model_config = ConfigDict(frozen=True)

    at: Timestamp
    status: TicketStatus


class Target(BaseModel):
    """What has been announced about one metric's current target."""

    model_config = ConfigDict(frozen=True)

    basis: str  # policy, calendar and target: another basis is another target
    cycle: int = 1  # next_reply: the cycle it measures
    warned: bool = False
    breached_due: Timestamp | None = None
    escalated: int = 0  # escalation steps done
    met_at: Timestamp | None = None


class SlaTicket(BaseModel):
    model_config = ConfigDict(frozen=True)

    ticket_id: str
    opened_at: Timestamp | None = None  # None: a routing event came before `opened`
    correlationid: str | None = None  # the opening message's: what timer events carry
    first_message_id: str | None = None
    channel: Channel = "email"
    customer_tier: CustomerTier = "standard"
    priority: Priority = "P3"
    tier: int = 1
    category: list[str] = []
    merged_into: str | None = None  # merged: closed without being resolved
    assignee: str | None = None
    statuses: list[Transition] = []
    first_reply_at: Timestamp | None = None
    cycle: int = 0  # next_reply cycles begun
    cycle_started_at: Timestamp | None = None
    cycle_ended_at: Timestamp | None = None
    cycle_answered: bool = False  # ended by a public reply, not by solving the ticket
    policy: str | None = None
    targets: dict[str, Target] = {}
    announced: list[str] = []  # "metric@due" of the last kefu.sla.started
    started: int = 0  # kefu.sla.started events so far
    wake_at: Timestamp | None = None  # when something is next due

    @property
    def status(self) -> TicketStatus | None:
        return self.statuses[-1].status if self.statuses else None

    def facts(self) -> Facts:
        return Facts(
            priority=self.priority,
            tier=self.tier,
            channel=self.channel,
            customer_tier=self.customer_tier,
            category=tuple(self.category),
        )

    def done_at(self) -> datetime | None:
        """When the ticket was last solved or closed, if it is now."""
        if self.status not in DONE:
            return None
        last_open = max(i for i, t in enumerate(self.statuses) if t.status not in DONE)
        return self.statuses[last_open + 1].at

    def first_done_at(self) -> datetime | None:
        return next((t.at for t in self.statuses if t.status in DONE), None)

    def cycle_running(self) -> bool:
        return self.cycle_started_at is not None and self.cycle_ended_at is None


def fold(ticket: SlaTicket | None, event: CloudEvent[Any]) -> SlaTicket | None:
    """The ticket after one event (None: an event about a ticket never seen)."""
    data = event.data
    if isinstance(data, TicketOpened):
        return _opened(ticket, data, event.correlationid)
    if isinstance(data, TicketAssigned | TicketUnassigned):
        ticket = ticket or SlaTicket(ticket_id=data.ticket_id)
        agent = data.agent_id if isinstance(data, TicketAssigned) else None
        return ticket.model_copy(update={"assignee": agent})
    if ticket is None or ticket.opened_at is None:
        return ticket
    match data:
        case MessageReceived() if data.message_id != ticket.first_message_id:
            return _customer_wrote(ticket, to_ms(data.received_at))
        case AgentReplied(public=True):
            return _agent_replied(ticket, to_ms(data.replied_at))
        case StatusChanged():
            return _moved(ticket, data.to, to_ms(data.at))
        case Reopened():
            return _moved(ticket, "open", to_ms(data.at))
        case PriorityChanged():
            return ticket.model_copy(update={"priority": data.to})
        case Escalated():
            return ticket.model_copy(update={"tier": max(ticket.tier, data.to_tier)})
        case CategoryChanged():
            return ticket.model_copy(update={"category": data.to})
        case TicketMerged():
            return ticket.model_copy(update={"merged_into": data.into_ticket_id})
    return ticket


def _opened(ticket: SlaTicket | None, data: TicketOpened, correlationid: str) -> SlaTicket:
    if ticket is not None and ticket.opened_at is not None:
        return ticket
    opened_at = to_ms(data.opened_at)
    return SlaTicket(
        ticket_id=data.ticket_id,
        opened_at=opened_at,
        correlationid=correlationid,
        first_message_id=data.first_message_id,
        channel=data.channel,
        customer_tier=data.customer.tier,
        priority=data.priority,
        tier=data.tier,
        category=data.category,
        assignee=ticket.assignee if ticket else None,
        statuses=[Transition(at=opened_at, status="new")],
    )


def _customer_wrote(ticket: SlaTicket, at: datetime) -> SlaTicket:
    """After a public reply, a customer message begins a next-reply cycle (if none runs)."""
    if ticket.first_reply_at is None or ticket.cycle_running() or ticket.status in DONE:
        return ticket
    return ticket.model_copy(
        update={
            "cycle": ticket.cycle + 1,
            "cycle_started_at": at,
            "cycle_ended_at": None,
            "cycle_answered": False,
        }
    )


def _agent_replied(ticket: SlaTicket, at: datetime) -> SlaTicket:
    update: dict[str, Any] = {"first_reply_at": ticket.first_reply_at or at}
    if ticket.cycle_running():
        update |= {"cycle_ended_at": max(at, ticket.cycle_started_at), "cycle_answered": True}
    return ticket.model_copy(update=update)


def _moved(ticket: SlaTicket, status: TicketStatus, at: datetime) -> SlaTicket:
    if status == ticket.status:
        return ticket
    at = max(at, ticket.statuses[-1].at)  # a clock never runs backwards
    update: dict[str, Any] = {"statuses": [*ticket.statuses, Transition(at=at, status=status)]}
    if status in DONE and ticket.cycle_running():  # solving disarms an unanswered cycle
        update |= {"cycle_ended_at": at, "cycle_answered": False}
    return ticket.model_copy(update=update)


def raise_tier(ticket: SlaTicket) -> SlaTicket:
    return ticket.model_copy(update={"tier": min(HIGHEST_TIER, ticket.tier + 1)})

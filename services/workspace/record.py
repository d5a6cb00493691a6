"""A ticket's summary in the conversation record (contract 8), folded from the canonical
events of every topic the workspace reads. Pure: no I/O.

Topics have no order between them (routing's `assigned` may come before ticket.events'
`opened`), so every rule gives the same summary whatever the order across topics:
`opened` fills in what it carries without moving a status or an assignee that later events
already set, and the support tier only rises (escalations, SLA steps), so the highest seen
wins. Within a topic a ticket's events come in order, and an event read twice is folded
once (the decision unit keeps the ids it applied).

- Status: `opened` is `new`, routing's `assigned` makes a `new` ticket `open` (intake keeps
  no status for that), `status_changed` and `reopened` set it.
- Assignee: the agent routing assigned, until it is unassigned or queued again.
- SLA: the targets of the latest `kefu.sla.started` (it lists every running target), less
  those met or breached; `next_due_at` is the earliest left, none once solved or closed.
- In the queue: no assignee and not solved or closed, ranked in the router's order.
- On a desk: the assignee's, while the ticket is neither solved nor closed.
- A merge (`kefu.ticket.merged`, keyed by the source) folds into both tickets: the source
  keeps `merged_into`, the target adds the source to `merged_from` (a second `Folding`).
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from kefu.services.workspace.ordering import queue_rank
from kefu.shared.events import CloudEvent, ticket
from kefu.shared.events.base import (
    Channel,
    CustomerTier,
    Priority,
    SupportTier,
    TicketStatus,
    rfc3339,
)
from kefu.shared.events.routing import TicketAssigned, TicketQueued, TicketUnassigned
from kefu.shared.events.sla import SlaBreached, SlaMet, SlaStarted, SlaTarget
from kefu.shared.events.survey import SurveyResponded

DONE: tuple[TicketStatus, ...] = ("solved", "closed")
MERGED_FROM_KEPT = 20
SLA_ENDED_KEPT = 20
FOLDED = (
    ticket.TicketOpened,
    ticket.MessageReceived,
    ticket.StatusChanged,
    ticket.PriorityChanged,
    ticket.CategoryChanged,
    ticket.TicketMerged,
    ticket.Reopened,
    ticket.Escalated,
    TicketAssigned,
    TicketUnassigned,
    TicketQueued,
    SlaStarted,
    SlaMet,
    SlaBreached,
    SurveyResponded,
)


class Requester(BaseModel):
    model_config = ConfigDict(frozen=True)

    address: str
    name: str | None = None
    customer_id: str | None = None


class TicketSummary(BaseModel):
    model_config = ConfigDict(frozen=True)

    ticket_id: str
    subject: str | None = None
    requester: Requester | None = None
    customer: str | None = None  # `customer_key`: whose history the ticket is in
    history_key: str | None = None  # `history_key`: the customer's history reads it (indexed)
    customer_tier: CustomerTier = "standard"
    channel: Channel | None = None
    locale: str | None = None
    status: TicketStatus | None = None  # None until `opened` or `assigned` is read
    priority: Priority | None = None
    category: list[str] = []
    tier: SupportTier = 1
    assignee: str | None = None
    desk: str | None = None  # the assignee while the ticket is worked: their desk (indexed)
    queued: bool = False  # waits in the queue for an agent
    queue_rank: str | None = None  # set while queued: the queue is read in its order
    waiting_since: datetime | None = None  # since when it waits for an agent
    next_due_at: datetime | None = None
    sla_targets: list[SlaTarget] = []  # of the latest kefu.sla.started
    sla_ended: list[str] = []  # `<metric>@<due_at>` of targets met or breached
    last_message_at: datetime | None = None
    opened_at: datetime | None = None
    follow_up_of: str | None = None
    related_to: str | None = None
    merged_into: str | None = None
    merged_from: list[str] = []  # the latest MERGED_FROM_KEPT tickets merged into this one
    csat: int | None = None


def customer_key(channel: Channel, customer_id: str | None, address: str) -> str:
    """The adapter's customer id when it gave one, else the address (any case) on its
    channel: the same customer as intake's merge rule sees it."""
    return f"id:{customer_id}" if customer_id else f"{channel}:{address.lower()}"


@dataclass(frozen=True)
class Folding:
    """An event folded into one ticket's summary: its own, or a merge's target."""

    ticket_id: str
    event: CloudEvent[Any]

    @property
    def input_id(self) -> str:
        own = self.ticket_id == self.event.data.ticket_id
        return self.event.id if own else f"{self.event.id}>{self.ticket_id}"


def foldings(event: CloudEvent[Any]) -> list[Folding]:
    """What an event folds into: nothing for events the summary does not keep."""
    data = event.data
    if not isinstance(data, FOLDED):
        return []
    into = [data.into_ticket_id] if isinstance(data, ticket.TicketMerged) else []
    return [Folding(ticket_id, event) for ticket_id in (data.ticket_id, *into)]


def fold(summary: TicketSummary | None, folding: Folding) -> TicketSummary:
    current = summary or TicketSummary(ticket_id=folding.ticket_id)
    data = folding.event.data
    if folding.ticket_id != data.ticket_id:  # a merge, folded into its target
        sources = [*(t for t in current.merged_from if t != data.ticket_id), data.ticket_id]
        return current.model_copy(update={"merged_from": sources[-MERGED_FROM_KEPT:]})
    return derived(current.model_copy(update=_changes(current, data)))


def _changes(s: TicketSummary, data: Any) -> dict[str, Any]:
    match data:
        case ticket.TicketOpened(customer=customer):
            return {
                "subject": data.subject,
                "requester": Requester(
                    address=customer.address, name=customer.name, customer_id=customer.id
                ),
                "customer": customer_key(data.channel, customer.id, customer.address),
                "customer_tier": customer.tier,
                "channel": data.channel,
                "locale": data.locale,
                "status": s.status or "new",
                "priority": s.priority or data.priority,
                "category": s.category or data.category,
                "tier": max(s.tier, data.tier),
                "opened_at": data.opened_at,
                "waiting_since": s.waiting_since or data.opened_at,
                "follow_up_of": data.follow_up_of,
                "related_to": data.related_to,
            }
        case ticket.MessageReceived():
            return {"last_message_at": max(filter(None, (s.last_message_at, data.received_at)))}
        case ticket.StatusChanged():
            return {"status": data.to}
        case ticket.Reopened():
            return {"status": "open", "waiting_since": data.at}
        case ticket.PriorityChanged():
            return {"priority": data.to}
        case ticket.CategoryChanged():
            return {"category": data.to}
        case ticket.TicketMerged():
            return {"merged_into": data.into_ticket_id}
        case ticket.Escalated():
            return {"tier": max(s.tier, data.to_tier)}
        case TicketAssigned():
            opens = {"status": "open"} if s.status in (None, "new") else {}
            return {"assignee": data.agent_id, "tier": max(s.tier, data.tier), **opens}
        case TicketUnassigned() if s.assignee == data.agent_id:
            return {"assignee": None, "waiting_since": data.at}
        case TicketQueued():
            return {"assignee": None, "waiting_since": s.waiting_since or data.at}
        case SlaStarted():
            return {"sla_targets": data.targets}
        case SlaMet() | SlaBreached():
            ended = [*s.sla_ended, target_key(data.metric, data.due_at)]
            return {"sla_ended": ended[-SLA_ENDED_KEPT:]}
        case SurveyResponded(kind="csat"):
            return {"csat": data.score}
    return {}


def target_key(metric: str, due_at: datetime) -> str:
    return f"{metric}@{rfc3339(due_at)}"


def history_key(customer: str, opened_at: datetime, ticket_id: str) -> str:
    """`<length of customer>:<customer>|<opened_at>|<ticket_id>`: a customer's tickets sort
    by it in opening order, and `history_prefix(customer)` starts theirs and no one else's
    (the length says where the customer ends, whatever characters it holds)."""
    return f"{history_prefix(customer)}{rfc3339(opened_at)}|{ticket_id}"


def history_prefix(customer: str) -> str:
    return f"{len(customer)}:{customer}|"


def derived(s: TicketSummary) -> TicketSummary:
    """What follows from the rest: the SLA due time still running, the queue's rank, whose
    desk the ticket is on and its place in its customer's history. The indexed ones are set
    only while they hold (None otherwise), so that each of the desk's reads is a small
    indexed read whatever the number of tickets stored."""
    done = s.status in DONE
    running = [t.due_at for t in s.sla_targets if target_key(t.metric, t.due_at) not in s.sla_ended]
    due = None if done else min(running, default=None)
    worked = s.status is not None and not done
    rank = None
    if s.assignee is None and worked and s.priority is not None:
        rank = queue_rank(s.customer_tier, s.priority, due, s.waiting_since, s.ticket_id)
    history = None
    if s.customer is not None and s.opened_at is not None:
        history = history_key(s.customer, s.opened_at, s.ticket_id)
    return s.model_copy(
        update={
            "next_due_at": due,
            "queued": rank is not None,
            "queue_rank": rank,
            "desk": s.assignee if worked else None,
            "history_key": history,
        }
    )

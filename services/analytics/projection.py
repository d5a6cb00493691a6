"""Pure fold: a ticket's projection after one more event. No I/O.

The projection holds the ticket's current fields, the instants and durations the KPIs need
(in calendar seconds and in business seconds on the calendar of the ticket's SLA policy),
counters, and bounded lists (its latest TIMELINE_SIZE events, its latest next-reply
durations, its owners), never its whole history, so folding an event costs the same on a
ticket's first event and on its thousandth. The timeline is in the order things happened.
Events may arrive across topics out of order
(an assignment before the ticket's `opened`): `opened` fills in what it carries without
moving a status that later events already set, and an interval that would run backwards
counts as nothing. An agent's `category_changed` replaces the category (KPIs by category
follow it); `merged` names the ticket a merge closed this one into.

Durations kept as they end:
- first response: opened → first public agent reply; first resolution: opened → first
  `solved`; full resolution: opened → last `solved`;
- next reply: a customer message after a public reply → the next public reply;
- requester wait: time in `new`, `open` and `on_hold`; handling: time assigned to an agent
  while `new` or `open`.
"""

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, computed_field

from kefu.shared.clock import ALWAYS, Clock, clocks
from kefu.shared.events import CloudEvent
from kefu.shared.events.base import Channel, Priority, SupportTier, TicketStatus
from kefu.shared.events.routing import TicketAssigned, TicketQueued, TicketUnassigned
from kefu.shared.events.sla import SlaBreached, SlaMet
from kefu.shared.events.survey import SurveyIssued, SurveyKind, SurveyResponded
from kefu.shared.events.ticket import (
    AgentReplied,
    CategoryChanged,
    Customer,
    Escalated,
    MessageReceived,
    PriorityChanged,
    Reopened,
    StatusChanged,
    TicketMerged,
    TicketOpened,
)
from kefu.shared.policy import Sla
from kefu.shared.sla_policy import Facts, choose

TIMELINE_SIZE = 50
NEXT_REPLIES_KEPT = 20
OWNERS_KEPT = 20
SLA_OUTCOMES_KEPT = 20
WAITING = ("new", "open", "on_hold")  # the requester waits on the team
HANDLED = ("new", "open")  # an assigned agent is working on it
DONE = ("solved", "closed")
OPENED_FIELDS = (
    "channel",
    "customer",
    "subject",
    "priority",
    "category",
    "skills",
    "tier",
    "locale",
    "follow_up_of",
    "related_to",
    "first_message_id",
    "opened_at",
)
ClockOf = Callable[["TicketProjection"], Clock]


class Took(BaseModel):
    """A duration that ended at `at`, in calendar and in business seconds."""

    model_config = ConfigDict(frozen=True)

    at: datetime
    calendar_s: float
    business_s: float


class TimelineEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    type: str
    at: datetime


class TicketProjection(BaseModel):
    model_config = ConfigDict(frozen=True)

    ticket_id: str
    status: TicketStatus | None = None
    priority: Priority | None = None
    tier: SupportTier | None = None
    assignee: str | None = None
    owners: list[str] = []
    queued: bool = False
    channel: Channel | None = None
    customer: Customer | None = None
    subject: str | None = None
    category: list[str] = []
    skills: list[str] = []
    locale: str | None = None
    follow_up_of: str | None = None
    related_to: str | None = None
    merged_into: str | None = None  # the ticket a merge closed this one into
    first_message_id: str | None = None
    opened_at: datetime | None = None
    first_public_reply_at: datetime | None = None
    first_solved_at: datetime | None = None
    solved_at: datetime | None = None  # the last solve
    closed_at: datetime | None = None
    reopened_at: datetime | None = None  # the last reopen
    messages: int = 0
    public_replies: int = 0
    reopened: int = 0
    first_response: Took | None = None
    first_resolution: Took | None = None
    full_resolution: Took | None = None
    next_replies: list[Took] = []
    waiting_since: datetime | None = None  # a customer message awaiting the next reply
    requester_wait: Took | None = None
    handling: Took | None = None
    since: datetime | None = None  # the last change of status or assignee
    sla: dict[str, str] = {}  # "<metric>@<due_at>": met | breached
    survey_kind: SurveyKind | None = None
    surveys_issued: int = 0
    survey_issued_at: datetime | None = None  # the last survey sent
    survey_score: int | None = None
    survey_answered_at: datetime | None = None
    updated_at: datetime | None = None
    timeline: list[TimelineEntry] = []

    @computed_field  # type: ignore[prop-decorator]
    @property
    def csat(self) -> int | None:
        return self.survey_score if self.survey_kind == "csat" else None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def nps(self) -> int | None:
        return self.survey_score if self.survey_kind == "nps" else None

    def one_touch(self) -> bool:
        """Solved with exactly one public agent reply and never reopened (FCR)."""
        return self.solved_at is not None and self.public_replies == 1 and self.reopened == 0


def sla_clocks(sla: Sla) -> ClockOf:
    """A ticket's business clock: the calendar of the SLA policy that holds it now."""
    named = clocks(sla.calendars)

    def clock_of(ticket: TicketProjection) -> Clock:
        if ticket.priority is None or ticket.channel is None:
            return named[ALWAYS]
        facts = Facts(
            priority=ticket.priority,
            tier=ticket.tier or 1,
            channel=ticket.channel,
            customer_tier=ticket.customer.tier if ticket.customer else "standard",
            category=tuple(ticket.category),
        )
        policy = choose(sla.policies, facts)
        return named[policy.calendar] if policy else named[ALWAYS]

    return clock_of


def fold(
    projection: TicketProjection | None, event: CloudEvent[Any], clock_of: ClockOf
) -> TicketProjection:
    """The projection with `event` folded in; `clock_of` gives a ticket's business clock."""
    current = projection or TicketProjection(ticket_id=event.data.ticket_id)
    changes = Changes(current, clock_of, event.time).of(event.data)
    entry = TimelineEntry(id=event.id, type=event.type, at=event.time)
    timeline = sorted([*current.timeline, entry], key=lambda kept: kept.at)[-TIMELINE_SIZE:]
    updated = max(filter(None, (current.updated_at, event.time)))
    return current.model_copy(update={**changes, "updated_at": updated, "timeline": timeline})


class Changes:
    def __init__(self, ticket: TicketProjection, clock_of: ClockOf, time: datetime) -> None:
        self.ticket = ticket
        self.clock_of = clock_of
        self.time = time  # the event's

    def of(self, data: Any) -> dict[str, Any]:
        ticket = self.ticket
        match data:
            case TicketOpened():
                opened = {field: getattr(data, field) for field in OPENED_FIELDS}
                return {
                    **opened,
                    "status": ticket.status or "new",
                    "since": ticket.since or data.opened_at,
                }
            case MessageReceived():
                return self._customer_wrote(data)
            case AgentReplied(public=True):
                return self._replied(data.replied_at)
            case StatusChanged():
                return self._moved(data.at, status=data.to)
            case Reopened():
                moved = self._moved(data.at, status="open")
                return {**moved, "reopened": ticket.reopened + 1, "reopened_at": data.at}
            case PriorityChanged():
                return {"priority": data.to}
            case CategoryChanged():
                return {"category": data.to}
            case TicketMerged():
                return {"merged_into": data.into_ticket_id}
            case Escalated():
                return {"tier": data.to_tier}
            case TicketQueued():
                return {"queued": True}
            case TicketAssigned():
                owners = [*[o for o in ticket.owners if o != data.agent_id], data.agent_id]
                opens = {"status": "open"} if ticket.status in (None, "new") else {}
                moved = self._moved(data.at, assignee=data.agent_id, **opens)
                return {
                    **moved,
                    "owners": owners[-OWNERS_KEPT:],
                    "queued": False,
                    "tier": data.tier,
                }
            case TicketUnassigned() if ticket.assignee == data.agent_id:
                return self._moved(data.at, assignee=None)
            case SlaBreached() | SlaMet():
                return {"sla": self._sla_outcome(data)}
            case SurveyIssued():
                issued = {
                    "surveys_issued": ticket.surveys_issued + 1,
                    "survey_issued_at": self.time,
                }
                return {"survey_kind": data.kind, **issued}
            case SurveyResponded():
                answered = {"survey_score": data.score, "survey_answered_at": data.at}
                return {"survey_kind": data.kind, **answered}
        return {}

    def _took(
        self, start: datetime | None, end: datetime, before: Took | None = None
    ) -> Took | None:
        """The interval start → end (added to `before`), or None without a start."""
        if start is None:
            return before
        span = max(end - start, timedelta(0))
        business = self.clock_of(self.ticket).worked(start, end) if span else timedelta(0)
        return Took(
            at=max(end, before.at) if before else end,
            calendar_s=(before.calendar_s if before else 0) + span.total_seconds(),
            business_s=(before.business_s if before else 0) + business.total_seconds(),
        )

    def _customer_wrote(self, data: MessageReceived) -> dict[str, Any]:
        ticket = self.ticket
        changes: dict[str, Any] = {"messages": ticket.messages + 1}
        starts_cycle = (
            ticket.first_public_reply_at is not None
            and ticket.waiting_since is None
            and data.survey_id is None
            and data.message_id != ticket.first_message_id
        )
        if starts_cycle:
            changes["waiting_since"] = data.received_at
        return changes

    def _replied(self, at: datetime) -> dict[str, Any]:
        ticket = self.ticket
        changes: dict[str, Any] = {"public_replies": ticket.public_replies + 1}
        if ticket.first_public_reply_at is None:
            changes["first_public_reply_at"] = at
            changes["first_response"] = self._took(ticket.opened_at, at)
        if ticket.waiting_since is not None:
            replied = self._took(ticket.waiting_since, at)
            changes["next_replies"] = [*ticket.next_replies, replied][-NEXT_REPLIES_KEPT:]
            changes["waiting_since"] = None
        return changes

    def _moved(self, at: datetime, **now: Any) -> dict[str, Any]:
        """A change of status or assignee at `at`: the time since the last change counts as
        requester wait and handling as the ticket was until now."""
        ticket = self.ticket
        changes: dict[str, Any] = {**now, "since": max(filter(None, (ticket.since, at)))}
        if ticket.since is not None and at > ticket.since:
            if ticket.status in WAITING:
                changes["requester_wait"] = self._took(ticket.since, at, ticket.requester_wait)
            if ticket.assignee and ticket.status in HANDLED:
                changes["handling"] = self._took(ticket.since, at, ticket.handling)
        status = now.get("status")
        if status in DONE:
            changes["queued"] = False  # no longer waiting for an agent
        if status == "solved":
            changes["solved_at"] = at
            changes["first_solved_at"] = ticket.first_solved_at or at
            changes["full_resolution"] = self._took(ticket.opened_at, at)
            if ticket.first_resolution is None:
                changes["first_resolution"] = changes["full_resolution"]
        if status == "closed":
            changes["closed_at"] = at
        return changes

    def _sla_outcome(self, data: SlaBreached | SlaMet) -> dict[str, str]:
        """A target's outcome by metric and due time; a breach is never undone by a late met."""
        key = f"{data.metric}@{data.due_at.isoformat()}"
        outcome = "breached" if isinstance(data, SlaBreached) else "met"
        outcomes = dict(self.ticket.sla)
        if outcomes.get(key) != "breached":
            outcomes.pop(key, None)
            outcomes[key] = outcome
        return dict(list(outcomes.items())[-SLA_OUTCOMES_KEPT:])

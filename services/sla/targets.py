"""A ticket's SLA targets, computed from its history, and what is due now: pure.

Each metric is a clock over the ticket's history (`Measure`): `first_response` runs from
opening to the first public reply, `next_reply` from a customer message to the next public
reply, `resolution` from opening to solved, stopped while the status is in the policy's
`pause_on` and resumed by a reopen. Solving or closing disarms what is left (closing by a
merge meets nothing). Under the policy
that holds now (chosen again on every change), every threshold of a metric, the warning at
`warn_at` × target, the breach at the target and each escalation step after it, is the instant
at which the clock's business time reaches it; a threshold that has come and was not announced
yet is announced now. `Target` remembers what was announced, so nothing is announced twice
and ids stay the same on a replay.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from kefu.services.sla.ticket import DONE, HIGHEST_TIER, SlaTicket, Target, raise_tier, to_ms
from kefu.shared.clock import ALWAYS, Clock, Run, clocks, reach, working_time
from kefu.shared.durations import WorkingDays
from kefu.shared.events import CloudEvent, new_event
from kefu.shared.events.base import EventData, TicketStatus, rfc3339
from kefu.shared.events.sla import (
    Metric,
    SlaBreached,
    SlaEscalated,
    SlaEvent,
    SlaMet,
    SlaStarted,
    SlaTarget,
    SlaWarning,
)
from kefu.shared.policy import Sla, SlaPolicy
from kefu.shared.sla_policy import choose

SOURCE = "kefu/sla"
METRICS: tuple[Metric, ...] = ("first_response", "next_reply", "resolution")
Event = CloudEvent[Any]


@dataclass(frozen=True)
class Rules:
    policies: Sequence[SlaPolicy]
    clocks: dict[str, Clock]

    @classmethod
    def of(cls, sla: Sla) -> "Rules":
        return cls(sla.policies, clocks(sla.calendars))


@dataclass(frozen=True)
class Cause:
    """The input a decision reacts to: an event, or a timer (then `id` is None)."""

    id: str | None
    correlationid: str | None


@dataclass(frozen=True)
class Measure:
    metric: Metric
    cycle: int
    runs: list[Run]  # when the clock ran; the last is open while it runs
    ended_at: datetime | None = None  # answered, solved, or disarmed
    answered: bool = False  # ended by what the metric measures (not disarmed)


def measures(ticket: SlaTicket, pause_on: Sequence[TicketStatus]) -> list[Measure]:
    """Every metric's clock over the ticket's history."""
    assert ticket.opened_at is not None
    found = [_first_response(ticket)]
    if ticket.cycle_started_at is not None:
        found.append(
            Measure(
                "next_reply",
                ticket.cycle,
                [(ticket.cycle_started_at, ticket.cycle_ended_at)],
                ticket.cycle_ended_at,
                ticket.cycle_answered,
            )
        )
    done_at = ticket.done_at()
    resolved = done_at is not None and ticket.merged_into is None  # a merge resolves nothing
    found.append(Measure("resolution", 1, _running(ticket, pause_on), done_at, resolved))
    return found


def _first_response(ticket: SlaTicket) -> Measure:
    replied, done = ticket.first_reply_at, ticket.first_done_at()
    if replied is not None and (done is None or replied <= done):
        ended, answered = replied, True
    else:
        ended, answered = done, False
    return Measure("first_response", 1, [(ticket.opened_at, ended)], ended, answered)


def _running(ticket: SlaTicket, pause_on: Sequence[TicketStatus]) -> list[Run]:
    """The spans in which the resolution clock ran: not paused, not solved or closed."""
    stopped = {*pause_on, *DONE}
    runs: list[Run] = []
    for transition in ticket.statuses:
        running = bool(runs) and runs[-1][1] is None
        if transition.status in stopped and running:
            runs[-1] = (runs[-1][0], transition.at)
        elif transition.status not in stopped and not running:
            runs.append((transition.at, None))
    return runs


@dataclass
class Evaluation:
    """One pass over a ticket's targets at `now`, collecting the events it announces."""

    ticket: SlaTicket
    rules: Rules
    now: datetime
    cause: Cause
    events: list[Event] = field(default_factory=list)
    armed: list[SlaTarget] = field(default_factory=list)
    wakes: list[datetime] = field(default_factory=list)
    raise_tier: bool = False

    def run(self, policy: SlaPolicy | None) -> SlaTicket:
        targets: dict[str, Target] = {}
        if policy is not None and self.ticket.opened_at is not None:
            clock = self.rules.clocks.get(policy.calendar, self.rules.clocks[ALWAYS])
            for measure in measures(self.ticket, policy.pause_on):
                limit = getattr(policy.targets, measure.metric)
                if limit is not None and (target := self._measure(policy, clock, measure, limit)):
                    targets[measure.metric] = target
        return self.ticket.model_copy(update={"policy": policy and policy.name, "targets": targets})

    def _measure(
        self, policy: SlaPolicy, clock: Clock, measure: Measure, target: timedelta | WorkingDays
    ) -> Target | None:
        written = target.total_seconds() if isinstance(target, timedelta) else target
        basis = f"{policy.name}:{policy.calendar}:{written}"
        known = self.ticket.targets.get(measure.metric)
        ended = measure.ended_at is not None
        if ended and known is not None and known.cycle == measure.cycle and known.basis != basis:
            return known  # a clock that ended keeps the outcome of the target it ran under
        if ended and known is None:
            return None  # it ended before any policy held it
        if known is None or known.basis != basis or known.cycle != measure.cycle:
            known = Target(basis=basis, cycle=measure.cycle)
        start = measure.runs[0][0] if measure.runs else self.ticket.opened_at
        limit = working_time(clock, target, start)
        steps = [limit + step.offset for step in policy.escalation]
        warn = limit * policy.warn_at if policy.warn_at else None
        amounts = [warn or limit, limit, *steps]
        warn_at, due, *escalations = [i and to_ms(i) for i in reach(clock, measure.runs, amounts)]
        threshold = Threshold(self, policy, measure, known)
        threshold.breach(due)
        if warn is not None:
            threshold.warn(warn_at, due, (limit - warn).total_seconds())
        threshold.escalate(escalations)
        if measure.ended_at is not None and measure.runs:
            projected = [*measure.runs[:-1], (measure.runs[-1][0], None)]  # had it run on
            threshold.meet(to_ms(reach(clock, projected, [limit])[0]))
        elif due is not None:
            self.armed.append(SlaTarget(metric=measure.metric, due_at=due))
        return threshold.known

    def emit(self, data: EventData, suffix: str) -> None:
        self.events.append(sla_event(self.ticket, data, suffix, self.now, self.cause))


def sla_event(
    ticket: SlaTicket, data: EventData, suffix: str, now: datetime, cause: Cause
) -> Event:
    """An event whose id says what it announces; a timer's events are caused by the
    `kefu.sla.started` that armed them."""
    last_started = f"sla:{ticket.ticket_id}:started:{ticket.started}" if ticket.started else None
    return new_event(
        data,
        id=f"sla:{ticket.ticket_id}:{suffix}",
        source=SOURCE,
        correlationid=cause.correlationid or ticket.correlationid or ticket.ticket_id,
        causationid=cause.id or last_started,
        time=now,
    )


@dataclass
class Threshold:
    """What comes due of one metric's target, announced through its evaluation."""

    evaluation: Evaluation
    policy: SlaPolicy
    measure: Measure
    known: Target

    def _announce(self, kind: type[SlaEvent], suffix: str, **fields: Any) -> None:
        """An event about this metric, its id `sla:<ticket>:<metric>:<suffix>`."""
        data = kind(
            ticket_id=self.evaluation.ticket.ticket_id,
            policy=self.policy.name,
            metric=self.measure.metric,
            **fields,
        )
        self.evaluation.emit(data, f"{self.measure.metric}:{suffix}")

    def _came(self, instant: datetime | None) -> bool:
        """Whether an instant the clock reached has come (and came before the clock ended)."""
        ended = self.measure.ended_at
        return (
            instant is not None
            and instant <= self.evaluation.now
            and (ended is None or instant < ended)
        )

    def _later(self, instant: datetime | None) -> None:
        """Wake the ticket at an instant still to come (a stopped clock reaches none)."""
        if instant is not None and instant > self.evaluation.now and self.measure.ended_at is None:
            self.evaluation.wakes.append(instant)

    def breach(self, due: datetime | None) -> None:
        if self.known.breached_due is not None:
            return
        if not self._came(due):
            self._later(due)
            return
        ticket = self.evaluation.ticket
        self._announce(
            SlaBreached,
            rfc3339(due),
            priority=ticket.priority,
            due_at=due,
            breached_at=self.evaluation.now,
            agent_id=ticket.assignee,
        )
        self.known = self.known.model_copy(update={"breached_due": due, "warned": True})

    def warn(self, warn_at: datetime | None, due: datetime | None, remaining_s: float) -> None:
        if self.known.warned:
            return
        if not self._came(warn_at) or due is None:
            self._later(warn_at)
            return
        self._announce(SlaWarning, f"{rfc3339(due)}:warning", due_at=due, remaining_s=remaining_s)
        self.known = self.known.model_copy(update={"warned": True})

    def escalate(self, instants: list[datetime | None]) -> None:
        due = self.known.breached_due
        if due is None:
            return
        for level, (step, instant) in enumerate(
            zip(self.policy.escalation, instants, strict=True), start=1
        ):
            if level <= self.known.escalated:
                continue
            if not self._came(instant):
                self._later(instant)
                return
            self._announce(
                SlaEscalated,
                f"{rfc3339(due)}:escalated:{level}",
                level=level,
                notify=step.notify,
                raise_tier=step.raise_tier,
                at=self.evaluation.now,
            )
            self.known = self.known.model_copy(update={"escalated": level})
            self.evaluation.raise_tier |= step.raise_tier

    def meet(self, due: datetime | None) -> None:
        ended = self.measure.ended_at
        if not self.measure.answered or self.known.breached_due is not None or due is None:
            return
        if ended is None or ended > due or self.known.met_at == ended:
            return
        self._announce(SlaMet, f"{rfc3339(due)}:met:{rfc3339(ended)}", due_at=due, met_at=ended)
        self.known = self.known.model_copy(update={"met_at": ended})


def evaluate(
    ticket: SlaTicket, rules: Rules, now: datetime, cause: Cause
) -> tuple[SlaTicket, list[Event]]:
    """The ticket with its targets at `now`, and the events that announce what came."""
    events: list[Event] = []
    for _ in range(HIGHEST_TIER):  # a step that raises the tier may bring another policy
        evaluation = Evaluation(ticket, rules, now, cause)
        policy = choose(rules.policies, ticket.facts()) if ticket.opened_at else None
        ticket = evaluation.run(policy)
        events += evaluation.events
        if not evaluation.raise_tier or ticket.tier == HIGHEST_TIER:
            break
        ticket = raise_tier(ticket)
    return _announced(ticket, evaluation, events)


def _announced(
    ticket: SlaTicket, evaluation: Evaluation, events: list[Event]
) -> tuple[SlaTicket, list[Event]]:
    """`kefu.sla.started` when a target is armed or its due time moved; when to wake next."""
    armed = [f"{t.metric}@{rfc3339(t.due_at)}" for t in evaluation.armed]
    update: dict[str, Any] = {"announced": armed, "wake_at": min(evaluation.wakes, default=None)}
    if set(armed) - set(ticket.announced):
        started = SlaStarted(
            ticket_id=ticket.ticket_id, policy=ticket.policy, targets=evaluation.armed
        )
        suffix = f"started:{ticket.started + 1}"
        events = [sla_event(ticket, started, suffix, evaluation.now, evaluation.cause), *events]
        update["started"] = ticket.started + 1
    return ticket.model_copy(update=update), events

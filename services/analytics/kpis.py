"""KPIs of a period [start, end) from the tickets' and agents' projections, pure. No I/O.

Each figure counts what happened in the period, by the instant it happened (start included,
end excluded):
- tickets: opened by `opened_at`, solved by `solved_at` (the last solve), reopened by
  `reopened_at` (the last reopen); backlog is the current backlog: tickets opened before
  `end` whose status now is neither solved nor closed;
- first response, first resolution and full resolution by the instant they ended; next reply
  by each kept reply's instant; requester wait and handling (AHT) of the tickets solved in the
  period. Each comes as count, mean, and nearest-rank p50 and p90, in calendar seconds and
  (`_business`) in business seconds;
- FCR rate: the share of tickets solved in the period that were solved in one touch;
- CSAT: responses answered in the period, the share of them scoring 4-5 (as a percentage),
  and responses / CSAT surveys issued in the period; NPS: responses answered in the period,
  % scoring 9-10 minus % scoring 0-6;
- SLA: met and breached targets per metric whose due time is in the period, and
  met / (met + breached);
- utilisation: handling time of the tickets solved in the period / the agents' online time
  in the period.

Grouped `by` a dimension, each group's figures come from its own tickets, computed like the
whole; a ticket with several skills is in each skill's group, and grouped by agent, each group's
utilisation counts that agent's online time alone.
"""

import math
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from statistics import fmean
from typing import Any, Literal, get_args

from kefu.services.analytics.agents import AgentProjection
from kefu.services.analytics.projection import DONE, TicketProjection, Took
from kefu.shared.events.base import rfc3339
from kefu.shared.events.sla import Metric

Dimension = Literal["channel", "priority", "agent", "skill", "category", "customer_tier"]
UNKNOWN = "unknown"  # a ticket whose `opened` has not been folded yet
GROUP_KEYS: dict[Dimension, Callable[[TicketProjection], list[str]]] = {
    "channel": lambda ticket: [ticket.channel or UNKNOWN],
    "priority": lambda ticket: [ticket.priority or UNKNOWN],
    "agent": lambda ticket: [ticket.assignee or "unassigned"],
    "skill": lambda ticket: ticket.skills or [UNKNOWN],
    "category": lambda ticket: ticket.category[:1] or ["uncategorised"],
    "customer_tier": lambda ticket: [ticket.customer.tier if ticket.customer else "standard"],
}
SATISFIED = (4, 5)  # CSAT, on 1-5
PROMOTERS = (9, 10)  # NPS, on 0-10
DETRACTORS = range(7)  # 0-6
TIMED = (
    "first_response",
    "next_reply",
    "first_resolution",
    "resolution",
    "requester_wait",
    "handling",
)


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime

    def holds(self, at: datetime | None) -> bool:
        return at is not None and self.start <= at < self.end


def kpis(
    tickets: Iterable[TicketProjection],
    agents: Sequence[AgentProjection],
    start: datetime,
    end: datetime,
    by: Dimension | None = None,
) -> dict[str, Any]:
    """The KPI object of contract 5.1 for [start, end), with `by` groups when asked."""
    measure = Measure(Period(start, end), (by,) if by else ())
    for ticket in tickets:
        measure.add(ticket)
    return measure.kpis(agents, by)


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest rank: the value at rank ceil(q × n) of the sorted values; None when empty."""
    if not values:
        return None
    # q × n carries float noise (0.55 × 100 = 55.00000000000001), which would move the rank
    rank = max(1, math.ceil(round(q * len(values), 9)))
    return sorted(values)[rank - 1]


class Measure:
    """A period's KPIs, whole and grouped by each of `dimensions`, taken in one pass over the
    tickets: each ticket is added and forgotten, so a day of a busy team is counted without
    holding its tickets (what stays is a number per duration, 8 bytes, in each group)."""

    def __init__(self, period: Period, dimensions: Sequence[Dimension] = ()) -> None:
        self.period = period
        self.whole = Tally(period)
        self.groups: dict[Dimension, dict[str, Tally]] = {d: {} for d in dimensions}

    def add(self, ticket: TicketProjection) -> None:
        self.whole.add(ticket)
        for dimension, tallies in self.groups.items():
            for key in set(GROUP_KEYS[dimension](ticket)):
                tallies.setdefault(key, Tally(self.period)).add(ticket)

    def kpis(self, agents: Sequence[AgentProjection], by: Dimension | None) -> dict[str, Any]:
        """The KPI object, grouped `by` one of the dimensions measured (or not grouped)."""
        tallies = self.groups[by] if by else {}
        return {
            "from": rfc3339(self.period.start),
            "to": rfc3339(self.period.end),
            **self.whole.figures(agents),
            "by": {
                key: tallies[key].figures(agents_of(agents, by, key)) for key in sorted(tallies)
            },
        }


def agents_of(
    agents: Sequence[AgentProjection], by: Dimension, key: str
) -> Sequence[AgentProjection]:
    return [agent for agent in agents if agent.agent_id == key] if by == "agent" else agents


class Tally:
    """One group's figures for a period, a ticket at a time."""

    def __init__(self, period: Period) -> None:
        self.period = period
        self.counts = dict.fromkeys(("opened", "solved", "reopened", "backlog"), 0)
        self.seconds = {name: (array("d"), array("d")) for name in TIMED}
        self.one_touch = 0
        self.surveys = dict.fromkeys(("csat_issued", "csat", "satisfied", "nps", "net"), 0)
        self.sla = {metric: {"met": 0, "breached": 0} for metric in get_args(Metric)}
        self.handled_s = 0.0

    def add(self, ticket: TicketProjection) -> None:
        holds = self.period.holds
        solved = holds(ticket.solved_at)
        self.counts["opened"] += holds(ticket.opened_at)
        self.counts["solved"] += solved
        self.counts["reopened"] += holds(ticket.reopened_at)
        self.counts["backlog"] += (
            ticket.opened_at is not None
            and ticket.opened_at < self.period.end
            and ticket.status not in DONE
        )
        for name, took in durations(ticket, solved, self.period):
            calendar, business = self.seconds[name]
            calendar.append(took.calendar_s)
            business.append(took.business_s)
        if solved:
            self.one_touch += ticket.one_touch()
            self.handled_s += ticket.handling.calendar_s if ticket.handling else 0.0
        self._add_survey(ticket)
        for target, outcome in ticket.sla.items():
            metric, due_at = target.split("@", 1)
            if holds(datetime.fromisoformat(due_at)):
                self.sla[metric][outcome] += 1

    def _add_survey(self, ticket: TicketProjection) -> None:
        surveys = self.surveys
        surveys["csat_issued"] += ticket.survey_kind == "csat" and self.period.holds(
            ticket.survey_issued_at
        )
        if ticket.survey_score is None or not self.period.holds(ticket.survey_answered_at):
            return
        if ticket.csat is not None:
            surveys["csat"] += 1
            surveys["satisfied"] += ticket.csat in SATISFIED
        if ticket.nps is not None:
            surveys["nps"] += 1
            surveys["net"] += (ticket.nps in PROMOTERS) - (ticket.nps in DETRACTORS)

    def figures(self, agents: Sequence[AgentProjection]) -> dict[str, Any]:
        online = sum(
            agent.online_between(self.period.start, self.period.end).total_seconds()
            for agent in agents
        )
        return {
            "tickets": dict(self.counts),
            **self._timings(),
            "fcr_rate": ratio(self.one_touch, self.counts["solved"]),
            **self._survey_figures(),
            "sla": {
                metric: {**counted, "achievement": ratio(counted["met"], sum(counted.values()))}
                for metric, counted in self.sla.items()
            },
            "utilisation": ratio(self.handled_s, online),
        }

    def _survey_figures(self) -> dict[str, dict[str, Any]]:
        csat, nps = self.surveys["csat"], self.surveys["nps"]
        return {
            "csat": {
                "responses": csat,
                "score_pct": ratio(self.surveys["satisfied"], csat, scale=100),
                "response_rate": ratio(csat, self.surveys["csat_issued"]),
            },
            "nps": {
                "responses": nps,
                "score": round(100 * self.surveys["net"] / nps, 1) if nps else None,
            },
        }

    def _timings(self) -> dict[str, dict[str, Any]]:
        blocks: dict[str, dict[str, Any]] = {}
        for name, (calendar, business) in self.seconds.items():
            blocks[name] = timing(calendar)
            blocks[f"{name}_business"] = timing(business)
        return blocks


def durations(ticket: TicketProjection, solved: bool, period: Period) -> Iterator[tuple[str, Took]]:
    """The ticket's durations of each metric in the period: by the instant each ended, except
    requester wait and handling, which count when the ticket was solved in the period (they
    accrue over the ticket's life)."""
    ended: dict[str, list[Took | None]] = {
        "first_response": [ticket.first_response],
        "next_reply": list(ticket.next_replies),
        "first_resolution": [ticket.first_resolution],
        "resolution": [ticket.full_resolution],
    }
    for name, tooks in ended.items():
        yield from ((name, took) for took in tooks if took and period.holds(took.at))
    if solved:
        accrued = {"requester_wait": ticket.requester_wait, "handling": ticket.handling}
        yield from ((name, took) for name, took in accrued.items() if took)


def timing(seconds: Sequence[float]) -> dict[str, Any]:
    return {
        "count": len(seconds),
        "avg_s": rounded(fmean(seconds)) if seconds else None,
        "p50_s": rounded(percentile(seconds, 0.5)),
        "p90_s": rounded(percentile(seconds, 0.9)),
    }


def ratio(part: float, whole: float, scale: float = 1) -> float | None:
    return round(scale * part / whole, 3) if whole else None


def rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)

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
from collections import defaultdict
from collections.abc import Callable, Sequence
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


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime

    def holds(self, at: datetime | None) -> bool:
        return at is not None and self.start <= at < self.end


def kpis(
    tickets: Sequence[TicketProjection],
    agents: Sequence[AgentProjection],
    start: datetime,
    end: datetime,
    by: Dimension | None = None,
) -> dict[str, Any]:
    """The KPI object of contract 5.1 for [start, end), with `by` groups when asked."""
    period = Period(start, end)
    groups = grouped(tickets, agents, period, by) if by else {}
    return {
        "from": rfc3339(start),
        "to": rfc3339(end),
        **figures(tickets, agents, period),
        "by": groups,
    }


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest rank: the value at rank ceil(q × n) of the sorted values; None when empty."""
    if not values:
        return None
    # q × n carries float noise (0.55 × 100 = 55.00000000000001), which would move the rank
    rank = max(1, math.ceil(round(q * len(values), 9)))
    return sorted(values)[rank - 1]


def grouped(
    tickets: Sequence[TicketProjection],
    agents: Sequence[AgentProjection],
    period: Period,
    by: Dimension,
) -> dict[str, dict[str, Any]]:
    groups: dict[str, list[TicketProjection]] = defaultdict(list)
    for ticket in tickets:
        for key in set(GROUP_KEYS[by](ticket)):
            groups[key].append(ticket)
    return {key: figures(groups[key], agents_of(agents, by, key), period) for key in sorted(groups)}


def agents_of(
    agents: Sequence[AgentProjection], by: Dimension, key: str
) -> Sequence[AgentProjection]:
    return [agent for agent in agents if agent.agent_id == key] if by == "agent" else agents


def figures(
    tickets: Sequence[TicketProjection], agents: Sequence[AgentProjection], period: Period
) -> dict[str, Any]:
    solved = [ticket for ticket in tickets if period.holds(ticket.solved_at)]
    return {
        "tickets": counts(tickets, solved, period),
        **timings(tickets, solved, period),
        "fcr_rate": ratio(sum(ticket.one_touch() for ticket in solved), len(solved)),
        "csat": csat(tickets, period),
        "nps": nps(tickets, period),
        "sla": sla(tickets, period),
        "utilisation": utilisation(solved, agents, period),
    }


def counts(
    tickets: Sequence[TicketProjection], solved: Sequence[TicketProjection], period: Period
) -> dict[str, int]:
    return {
        "opened": sum(period.holds(ticket.opened_at) for ticket in tickets),
        "solved": len(solved),
        "reopened": sum(period.holds(ticket.reopened_at) for ticket in tickets),
        "backlog": sum(
            ticket.opened_at is not None
            and ticket.opened_at < period.end
            and ticket.status not in DONE
            for ticket in tickets
        ),
    }


def timings(
    tickets: Sequence[TicketProjection], solved: Sequence[TicketProjection], period: Period
) -> dict[str, dict[str, Any]]:
    blocks: dict[str, dict[str, Any]] = {}
    for name, tooks in durations(tickets, solved, period).items():
        blocks[name] = timing([took.calendar_s for took in tooks])
        blocks[f"{name}_business"] = timing([took.business_s for took in tooks])
    return blocks


def durations(
    tickets: Sequence[TicketProjection], solved: Sequence[TicketProjection], period: Period
) -> dict[str, list[Took]]:
    """Each duration metric's values in the period: by the instant it ended, except requester
    wait and handling, which are the solved tickets' (they accrue over the ticket's life)."""
    ended: dict[str, list[Took | None]] = {
        "first_response": [ticket.first_response for ticket in tickets],
        "next_reply": [reply for ticket in tickets for reply in ticket.next_replies],
        "first_resolution": [ticket.first_resolution for ticket in tickets],
        "resolution": [ticket.full_resolution for ticket in tickets],
    }
    return {
        **{
            name: [took for took in tooks if took and period.holds(took.at)]
            for name, tooks in ended.items()
        },
        "requester_wait": [ticket.requester_wait for ticket in solved if ticket.requester_wait],
        "handling": [ticket.handling for ticket in solved if ticket.handling],
    }


def timing(seconds: Sequence[float]) -> dict[str, Any]:
    return {
        "count": len(seconds),
        "avg_s": rounded(fmean(seconds)) if seconds else None,
        "p50_s": rounded(percentile(seconds, 0.5)),
        "p90_s": rounded(percentile(seconds, 0.9)),
    }


def csat(tickets: Sequence[TicketProjection], period: Period) -> dict[str, Any]:
    scores = [t.csat for t in tickets if t.csat is not None and period.holds(t.survey_answered_at)]
    issued = sum(t.survey_kind == "csat" and period.holds(t.survey_issued_at) for t in tickets)
    satisfied = sum(score in SATISFIED for score in scores)
    return {
        "responses": len(scores),
        "score_pct": ratio(satisfied, len(scores), scale=100),
        "response_rate": ratio(len(scores), issued),
    }


def nps(tickets: Sequence[TicketProjection], period: Period) -> dict[str, Any]:
    scores = [t.nps for t in tickets if t.nps is not None and period.holds(t.survey_answered_at)]
    net = sum(score in PROMOTERS for score in scores) - sum(score in DETRACTORS for score in scores)
    return {
        "responses": len(scores),
        "score": round(100 * net / len(scores), 1) if scores else None,
    }


def sla(tickets: Sequence[TicketProjection], period: Period) -> dict[str, dict[str, Any]]:
    outcomes = {metric: {"met": 0, "breached": 0} for metric in get_args(Metric)}
    for ticket in tickets:
        for target, outcome in ticket.sla.items():
            metric, due_at = target.split("@", 1)
            if period.holds(datetime.fromisoformat(due_at)):
                outcomes[metric][outcome] += 1
    return {
        metric: {**counted, "achievement": ratio(counted["met"], sum(counted.values()))}
        for metric, counted in outcomes.items()
    }


def utilisation(
    solved: Sequence[TicketProjection], agents: Sequence[AgentProjection], period: Period
) -> float | None:
    handled = sum(ticket.handling.calendar_s for ticket in solved if ticket.handling)
    online = sum(agent.online_between(period.start, period.end).total_seconds() for agent in agents)
    return ratio(handled, online)


def ratio(part: float, whole: float, scale: float = 1) -> float | None:
    return round(scale * part / whole, 3) if whole else None


def rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)

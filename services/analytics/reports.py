"""The weekly and monthly service-analysis reports, and the QA sample. Pure: no I/O.

A report compares a period (an ISO week or a calendar month, UTC) with the one before it:
its KPIs, its most frequent and fastest-growing categories (the recurring problems the
product team hears about), the tickets that breached an SLA target due in it, the detractors
who answered a survey in it, and each agent's QA sample of the tickets they solved in it. It
comes as Markdown (for people) and as CSV (one row per figure, for spreadsheets).
"""

import csv
import io
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from functools import reduce
from hashlib import sha256
from math import ceil
from typing import Any, get_args
from urllib.parse import quote

from kefu.services.analytics.export import safe_cells
from kefu.services.analytics.kpis import Period as Span
from kefu.services.analytics.projection import TicketProjection
from kefu.shared.events.sla import Metric
from kefu.shared.surveys import is_detractor

QA_SHARE = 0.1  # the handbooks' quality inspection: at least 10 % of the cases
TOP_CATEGORIES = 10
ISO_WEEK = re.compile(r"([1-9]\d{3})-W(\d{2})")
YEAR_MONTH = re.compile(r"([1-9]\d{3})-(\d{2})")
MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&])")
URL_SAFE = ":/?#@!$&'*+,;=%"  # a URL's own delimiters; the rest is percent-encoded
NOTHING = "—"
CSV_HEADER = (
    "section", "name", "value", "previous", "change", "change_pct", "ticket_id", "priority",
    "agent",
)  # fmt: skip


@dataclass(frozen=True)
class Period(Span):
    """[start, end) in UTC, named by its label: "2026-W47" or "2026-11"."""

    label: str


def week(iso_week: str) -> Period:
    """The ISO week "2026-W47": Monday 00:00 UTC to the next Monday."""
    found = ISO_WEEK.fullmatch(iso_week)
    if not found:
        raise ValueError(f"not an ISO week like 2026-W47: {iso_week!r}")
    year, number = int(found[1]), int(found[2])
    try:
        monday = datetime.fromisocalendar(year, number, 1).replace(tzinfo=UTC)
        return Period(monday, monday + timedelta(days=7), iso_week)
    except (ValueError, OverflowError):
        raise ValueError(f"{year} has no ISO week {number}: {iso_week!r}") from None


def month(year_month: str) -> Period:
    """The calendar month "2026-11": its first day 00:00 UTC to the next month's."""
    found = YEAR_MONTH.fullmatch(year_month)
    if not found or not 1 <= int(found[2]) <= 12:
        raise ValueError(f"not a month like 2026-11: {year_month!r}")
    first = datetime(int(found[1]), int(found[2]), 1, tzinfo=UTC)
    try:
        return Period(first, (first + timedelta(days=32)).replace(day=1), year_month)
    except OverflowError:
        raise ValueError(f"{year_month!r} ends after the last representable day") from None


def previous(period: Period) -> Period:
    """The week or the month before."""
    day_before = period.start - timedelta(days=1)
    if ISO_WEEK.fullmatch(period.label):
        year, number, _ = day_before.isocalendar()
        return week(f"{year}-W{number:02d}")
    if YEAR_MONTH.fullmatch(period.label):
        return month(f"{day_before:%Y-%m}")
    raise ValueError(f"not a week or a month: {period.label!r}")


def qa_sample(
    tickets: Iterable[TicketProjection], period: Period, share: float = QA_SHARE
) -> dict[str, list[str]]:
    """Per agent (the assignee), the ids of tickets solved in the period picked for review:
    of an agent's n, the ceil(share × n) with the lowest draws and at least one, so the sample
    is never below the share (contract 9: 每月抽查至少10%) and every agent who solved any is
    reviewed. The draw hashes the period and the ticket: reproducible, and different from one
    period to the next."""
    solved: dict[str, set[str]] = defaultdict(set)
    for ticket in tickets:
        if ticket.assignee and period.holds(ticket.solved_at):
            solved[ticket.assignee].add(ticket.ticket_id)
    return {agent: _sampled(ids, period, share) for agent, ids in sorted(solved.items())}


def _sampled(ticket_ids: set[str], period: Period, share: float) -> list[str]:
    wanted = max(1, ceil(Fraction(share).limit_denominator(10**6) * len(ticket_ids)))
    by_draw = sorted(ticket_ids, key=lambda ticket_id: (_draw(period, ticket_id), ticket_id))
    return sorted(by_draw[:wanted])


def _draw(period: Period, ticket_id: str) -> float:
    digest = sha256(f"{period.label}:{ticket_id}".encode()).hexdigest()
    return int(digest[:8], 16) / 2**32


@dataclass(frozen=True)
class Report:
    markdown: str
    csv: str


def report(
    period: Period,
    tickets: Sequence[TicketProjection],
    previous_tickets: Sequence[TicketProjection],
    kpis: Callable[..., dict[str, Any]],
    ticket_url: Callable[[str], str],
) -> Report:
    """The report of `period` against the period before.

    `kpis(start, end)` gives the KPI object of [start, end) (the caller binds the tickets and
    agents to `analytics.kpis.kpis`); `tickets` and `previous_tickets` are those the period
    and the one before may concern: each section picks its own by the instant that matters
    (opened, breach due, survey answered, solved), so larger lists do no harm. `ticket_url`
    gives the address of a ticket's timeline."""
    before = previous(period)
    content = Content(
        period=period,
        before=before,
        kpis=_compared_kpis(kpis(period.start, period.end), kpis(before.start, before.end)),
        categories=_category_counts(tickets, period, previous_tickets, before),
        breaches=_breaches(tickets, period),
        detractors=_detractors(tickets, period),
        sample=qa_sample(tickets, period),
    )
    return Report(markdown=_markdown(content, ticket_url), csv=_csv(content))


# What the report says


@dataclass(frozen=True)
class Kind:
    """How a kind of figure reads: its value, its change, and whether a % change means anything."""

    show: Callable[[Any], str]
    show_change: Callable[[Any], str]
    relative: bool


def human_duration(seconds: float) -> str:
    """3900 → "1h 05m": the two largest units."""
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days}d {hours:02d}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


COUNT = Kind(show=str, show_change=lambda d: f"{d:+}", relative=True)
DURATION = Kind(
    show=human_duration,
    show_change=lambda d: ("-" if d < 0 else "+") + human_duration(abs(d)),
    relative=True,
)
RATIO = Kind(show=lambda v: f"{v:.1%}", show_change=lambda d: f"{d * 100:+.1f} pp", relative=False)
PERCENT = Kind(show=lambda v: f"{v:.1f}%", show_change=lambda d: f"{d:+.1f} pp", relative=False)
POINTS = Kind(show=lambda v: f"{v:.1f}", show_change=lambda d: f"{d:+.1f}", relative=False)


@dataclass(frozen=True)
class Figure:
    name: str  # in the CSV
    label: str  # in the Markdown
    path: tuple[str, ...]  # in the KPI object
    kind: Kind


def _timing_figures(block: str, label: str) -> list[Figure]:
    return [
        Figure(f"{block}_{rank}_s", f"{label} {rank}", (block, f"{rank}_s"), DURATION)
        for rank in ("p50", "p90")
    ]


FIGURES = (
    Figure("opened", "Opened", ("tickets", "opened"), COUNT),
    Figure("solved", "Solved", ("tickets", "solved"), COUNT),
    Figure("backlog", "Backlog", ("tickets", "backlog"), COUNT),
    *_timing_figures("first_response", "First response"),
    *_timing_figures("first_response_business", "First response (business hours)"),
    *_timing_figures("resolution", "Resolution"),
    *_timing_figures("resolution_business", "Resolution (business hours)"),
    Figure("fcr_rate", "First-contact resolution", ("fcr_rate",), RATIO),
    Figure("csat_score_pct", "CSAT", ("csat", "score_pct"), PERCENT),
    Figure("nps_score", "NPS", ("nps", "score"), POINTS),
    *(
        Figure(
            f"sla_{metric}_achievement",
            f"SLA {metric.replace('_', ' ')}",
            ("sla", metric, "achievement"),
            RATIO,
        )
        for metric in get_args(Metric)
    ),
)


@dataclass(frozen=True)
class Compared:
    """A figure in the period and in the one before; None where there is nothing to measure."""

    now: float | None
    before: float | None

    @property
    def change(self) -> float | None:
        return None if self.now is None or self.before is None else self.now - self.before

    @property
    def change_pct(self) -> float | None:
        change = self.change
        return None if change is None or not self.before else 100 * change / self.before


@dataclass(frozen=True)
class CategoryCount(Compared):
    path: str  # "l1 / l2 / l3"

    @property
    def is_new(self) -> bool:
        return not self.before

    @property
    def ratio(self) -> float:
        return self.now / self.before if self.before else float("inf")


Breach = tuple[TicketProjection, list[tuple[str, datetime]]]  # a ticket, its (metric, due)


@dataclass(frozen=True)
class Content:
    period: Period
    before: Period
    kpis: list[tuple[Figure, Compared]]
    categories: list[CategoryCount]
    breaches: list[Breach]
    detractors: list[TicketProjection]
    sample: dict[str, list[str]]

    @property
    def top_categories(self) -> list[CategoryCount]:
        ranked = sorted(self.categories, key=lambda c: (-c.now, c.path))
        return ranked[:TOP_CATEGORIES]

    @property
    def growing_categories(self) -> list[CategoryCount]:
        growing = (c for c in self.categories if c.change > 0)
        return sorted(growing, key=lambda c: (-c.change, -c.ratio, c.path))[:TOP_CATEGORIES]


def _compared_kpis(
    now: Mapping[str, Any], before: Mapping[str, Any]
) -> list[tuple[Figure, Compared]]:
    return [(f, Compared(_lookup(now, f.path), _lookup(before, f.path))) for f in FIGURES]


def _lookup(kpi: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    """The value at `path`, or None where a block is missing (business times may be)."""
    return reduce(lambda node, key: (node or {}).get(key), path, kpi)


def _category_counts(
    tickets: Sequence[TicketProjection],
    period: Period,
    previous_tickets: Sequence[TicketProjection],
    before: Period,
) -> list[CategoryCount]:
    now, then = _opened_by_category(tickets, period), _opened_by_category(previous_tickets, before)
    return [CategoryCount(now[path], then[path], path) for path in now]


def _opened_by_category(tickets: Sequence[TicketProjection], period: Period) -> Counter[str]:
    return Counter(" / ".join(t.category) for t in tickets if period.holds(t.opened_at))


def _breaches(tickets: Sequence[TicketProjection], period: Period) -> list[Breach]:
    """The tickets with a target due in the period breached, the most urgent priority first."""
    found = [(t, targets) for t in tickets if (targets := _breached_targets(t, period))]
    return sorted(found, key=lambda breach: _by_priority(breach[0]))


def _by_priority(ticket: TicketProjection) -> tuple[bool, str, str]:
    return ticket.priority is None, ticket.priority or "", ticket.ticket_id


def _breached_targets(ticket: TicketProjection, period: Period) -> list[tuple[str, datetime]]:
    """The ticket's breached targets due in the period, as (metric, due), earliest first."""
    breached = (key.split("@", 1) for key, outcome in ticket.sla.items() if outcome == "breached")
    due = ((metric, datetime.fromisoformat(due_at)) for metric, due_at in breached)
    return sorted(((m, at) for m, at in due if period.holds(at)), key=lambda target: target[1])


def _detractors(tickets: Sequence[TicketProjection], period: Period) -> list[TicketProjection]:
    """The tickets whose survey got a low score in the period, in the order of the answers."""
    low = (ticket for ticket in tickets if _answered_low(ticket, period))
    return sorted(low, key=lambda ticket: (ticket.survey_answered_at, ticket.ticket_id))


def _answered_low(ticket: TicketProjection, period: Period) -> bool:
    return (
        ticket.survey_kind is not None
        and ticket.survey_score is not None
        and period.holds(ticket.survey_answered_at)
        and is_detractor(ticket.survey_kind, ticket.survey_score)
    )


# Markdown


def _markdown(content: Content, ticket_url: Callable[[str], str]) -> str:
    def link(ticket_id: str) -> str:
        return f"[{_text(ticket_id)}]({quote(ticket_url(ticket_id), safe=URL_SAFE)})"

    period, before = content.period, content.before
    sections = (
        f"# Service analysis report {period.label}",
        f"{_days(period)} (UTC), compared with {before.label} ({_days(before)}).",
        "## KPIs",
        _kpi_table(content),
        f"## Top {TOP_CATEGORIES} categories of the tickets opened",
        _category_table(content.top_categories, before, "No tickets were opened."),
        "## Fastest-growing categories",
        _category_table(content.growing_categories, before, "No category grew."),
        "## Tickets that breached an SLA target",
        _breach_table(content.breaches, link),
        "## Detractors",
        _detractor_table(content.detractors, link),
        "## QA sample",
        f"At least {QA_SHARE:.0%} of each agent's solved tickets (rounded up), at least one each.",
        _sample_table(content.sample, link),
    )
    return "\n\n".join(sections) + "\n"


def _days(period: Period) -> str:
    return f"{period.start:%Y-%m-%d} to {period.end - timedelta(days=1):%Y-%m-%d}"


def _kpi_table(content: Content) -> str:
    rows = [
        [
            figure.label,
            _shown(figure.kind.show, compared.now),
            _shown(figure.kind.show, compared.before),
            _shown(figure.kind.show_change, compared.change),
            _signed_pct(compared.change_pct if figure.kind.relative else None),
        ]
        for figure, compared in content.kpis
    ]
    header = ["KPI", content.period.label, content.before.label, "change", "change %"]
    return _table(header, rows, empty="")


def _category_table(counts: list[CategoryCount], before: Period, empty: str) -> str:
    rows = [
        [
            _text(count.path),
            str(count.now),
            str(count.before),
            f"{count.change:+}",
            "new" if count.is_new else _signed_pct(count.change_pct),
        ]
        for count in counts
    ]
    return _table(["category", "opened", before.label, "change", "change %"], rows, empty)


def _breach_table(breaches: list[Breach], link: Callable[[str], str]) -> str:
    rows = [
        [
            link(ticket.ticket_id),
            _text(ticket.priority),
            ", ".join(metric for metric, _ in targets),
            _text(ticket.assignee),
            _text(ticket.subject),
        ]
        for ticket, targets in breaches
    ]
    header = ["ticket", "priority", "breached", "agent", "subject"]
    return _table(header, rows, empty="No SLA target was breached.")


def _detractor_table(detractors: list[TicketProjection], link: Callable[[str], str]) -> str:
    rows = [
        [
            link(ticket.ticket_id),
            str(ticket.survey_kind).upper(),
            str(ticket.survey_score),
            _text(ticket.assignee),
            f"{ticket.survey_answered_at:%Y-%m-%d %H:%M}",
            _text(ticket.subject),
        ]
        for ticket in detractors
    ]
    header = ["ticket", "survey", "score", "agent", "answered", "subject"]
    return _table(header, rows, empty="No detractors.")


def _sample_table(sample: dict[str, list[str]], link: Callable[[str], str]) -> str:
    rows = [
        [_text(agent), str(len(ticket_ids)), ", ".join(map(link, ticket_ids))]
        for agent, ticket_ids in sample.items()
    ]
    return _table(["agent", "sampled", "tickets"], rows, empty="No tickets were solved.")


def _table(header: list[str], rows: list[list[str]], empty: str) -> str:
    if not rows:
        return empty
    lines = [header, ["---"] * len(header), *rows]
    return "\n".join(f"| {' | '.join(cells)} |" for cells in lines)


def _text(value: str | None) -> str:
    """Ticket data made safe for a Markdown table cell: one line, its markup escaped."""
    return MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(value.split())) if value else NOTHING


def _shown(show: Callable[[Any], str], value: float | None) -> str:
    return NOTHING if value is None else show(value)


def _signed_pct(value: float | None) -> str:
    return _shown(lambda pct: f"{pct:+.1f}%", value)


# CSV


def _csv(content: Content) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_HEADER)
    writer.writerows(map(safe_cells, _csv_rows(content)))
    return buffer.getvalue()


def _csv_rows(content: Content) -> Iterable[tuple[Any, ...]]:
    """One row per figure; durations in seconds, ratios 0..1."""
    for figure, compared in content.kpis:
        pct = compared.change_pct if figure.kind.relative else None
        values = (compared.now, compared.before, compared.change, pct)
        yield _csv_row("kpis", figure.name, *map(_rounded, values))
    for section, counts in (
        ("top_categories", content.top_categories),
        ("growing_categories", content.growing_categories),
    ):
        for count in counts:
            pct = "new" if count.is_new else _rounded(count.change_pct)
            yield _csv_row(section, count.path, count.now, count.before, count.change, pct)
    for ticket, targets in content.breaches:
        for metric, due in targets:
            yield _csv_row("sla_breached", metric, due.isoformat(), **_about(ticket))
    for ticket in content.detractors:
        yield _csv_row("detractors", ticket.survey_kind, ticket.survey_score, **_about(ticket))
    for agent, ticket_ids in content.sample.items():
        for ticket_id in ticket_ids:
            yield _csv_row("qa_sample", "sampled", None, ticket_id=ticket_id, agent=agent)


def _csv_row(
    section: str,
    name: Any,
    value: Any,
    before: Any = None,
    change: Any = None,
    change_pct: Any = None,
    ticket_id: str | None = None,
    priority: str | None = None,
    agent: str | None = None,
) -> tuple[Any, ...]:
    """A row in CSV_HEADER's columns (None is written as an empty cell)."""
    return section, name, value, before, change, change_pct, ticket_id, priority, agent


def _about(ticket: TicketProjection) -> dict[str, str | None]:
    return {"ticket_id": ticket.ticket_id, "priority": ticket.priority, "agent": ticket.assignee}


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)

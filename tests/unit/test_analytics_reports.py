"""Reports: periods, the QA sample, and the weekly report's sections in Markdown and CSV."""

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from hashlib import sha256

import pytest

from kefu.services.analytics.projection import TicketProjection
from kefu.services.analytics.reports import (
    CSV_HEADER,
    Period,
    human_duration,
    month,
    previous,
    qa_sample,
    report,
    week,
)

WEEK = week("2026-W47")  # Monday 2026-11-16 to Monday 2026-11-23
BEFORE = week("2026-W46")
IN_WEEK = datetime(2026, 11, 18, 10, 0, tzinfo=UTC)
LAST_WEEK = datetime(2026, 11, 11, 10, 0, tzinfo=UTC)
NEXT_WEEK = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
BILLING = ["billing", "refund", "late"]
LOGIN = ["tech", "login", "fails"]
PIPED = ["apps|mobile", "crash, ios", "v2"]  # ticket data with Markdown and CSV delimiters


def utc(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, tzinfo=UTC)


def ticket(number: int, **fields) -> TicketProjection:
    return TicketProjection(ticket_id=str(number), **fields)


def solved(number: int, agent: str | None, at: datetime = IN_WEEK) -> TicketProjection:
    return ticket(number, assignee=agent, status="solved", solved_at=at)


def url(ticket_id: str) -> str:
    return f"https://kefu.example/v1/tickets/{ticket_id}"


# Periods


def test_a_week_runs_from_monday_to_the_next_monday_utc() -> None:
    assert week("2026-W47") == Period(utc(2026, 11, 16), utc(2026, 11, 23), "2026-W47")


@pytest.mark.parametrize(
    ("label", "monday"),
    [
        ("2026-W01", utc(2025, 12, 29)),  # week 1 holds the year's first Thursday
        ("2021-W01", utc(2021, 1, 4)),
        ("2026-W53", utc(2026, 12, 28)),  # years starting on a Thursday have 53 weeks
        ("2020-W53", utc(2020, 12, 28)),  # as do leap years starting on a Wednesday
    ],
)
def test_weeks_at_the_turn_of_the_year(label: str, monday: datetime) -> None:
    assert week(label) == Period(monday, monday + timedelta(days=7), label)


@pytest.mark.parametrize(
    "label",
    ["2025-W53", "2026-W00", "2026-W54", "2026-W7", "2026-47", "2026-w47", " 2026-W47", "", "x"],
)
def test_a_bad_week_is_refused_with_the_expected_form(label: str) -> None:
    with pytest.raises(ValueError, match="ISO week"):
        week(label)


def test_a_year_without_week_53_is_named() -> None:
    with pytest.raises(ValueError, match="2025 has no ISO week 53"):
        week("2025-W53")


@pytest.mark.parametrize(
    ("label", "start", "end"),
    [
        ("2026-11", utc(2026, 11, 1), utc(2026, 12, 1)),
        ("2026-12", utc(2026, 12, 1), utc(2027, 1, 1)),
        ("2024-02", utc(2024, 2, 1), utc(2024, 3, 1)),
    ],
)
def test_a_month_runs_from_its_first_day_to_the_next_months(
    label: str, start: datetime, end: datetime
) -> None:
    assert month(label) == Period(start, end, label)


@pytest.mark.parametrize("label", ["2026-13", "2026-00", "2026-1", "2026/11", "2026-11-01", ""])
def test_a_bad_month_is_refused_with_the_expected_form(label: str) -> None:
    with pytest.raises(ValueError, match="not a month like 2026-11"):
        month(label)


@pytest.mark.parametrize(
    ("period", "expected"),
    [
        (week("2026-W47"), "2026-W46"),
        (week("2026-W01"), "2025-W52"),
        (week("2021-W01"), "2020-W53"),
        (week("2027-W01"), "2026-W53"),
        (month("2026-03"), "2026-02"),
        (month("2026-01"), "2025-12"),
    ],
)
def test_previous_is_the_period_before(period: Period, expected: str) -> None:
    before = previous(period)
    assert before.label == expected and before.end == period.start


def test_previous_needs_a_week_or_a_month() -> None:
    with pytest.raises(ValueError, match="not a week or a month"):
        previous(Period(utc(2026, 11, 1), utc(2026, 11, 3), "two days"))


# QA sample


def draw(period: Period, ticket_id: str) -> float:
    """The contract's draw, written out independently of the module."""
    return int(sha256(f"{period.label}:{ticket_id}".encode()).hexdigest()[:8], 16) / 2**32


def team(count: int, agents: int, at: datetime = IN_WEEK) -> list[TicketProjection]:
    return [solved(n, f"a-{n % agents}", at) for n in range(count)]


def test_the_sample_is_the_same_for_the_same_tickets_in_any_order() -> None:
    tickets = team(300, agents=3)
    assert qa_sample(tickets, WEEK) == qa_sample(list(reversed(tickets)), WEEK)


def test_at_least_a_tenth_of_each_agents_own_tickets_is_sampled() -> None:
    tickets = team(1000, agents=5)
    sample = qa_sample(tickets, WEEK)
    sampled = [ticket_id for ids in sample.values() for ticket_id in ids]
    assert [len(ids) for ids in sample.values()] == [20] * 5
    assert len(set(sampled)) == len(sampled)
    assert all(
        int(ticket_id) % 5 == int(agent[2:]) for agent, ids in sample.items() for ticket_id in ids
    )


@pytest.mark.parametrize(
    ("solved_count", "expected"),
    [(1, 1), (9, 1), (10, 1), (11, 2), (29, 3), (30, 3), (31, 4), (200, 20), (201, 21)],
)
def test_the_sample_holds_ceil_of_a_tenth(solved_count: int, expected: int) -> None:
    """Contract 9: 每月抽查至少10%: never fewer than ceil(0.1 × n), never a tenth more."""
    assert len(qa_sample(team(solved_count, agents=1), WEEK)["a-0"]) == expected


def test_every_agent_who_solved_any_gets_their_lowest_draw_at_least() -> None:
    tickets = [solved(1, "small"), solved(2, "pair"), solved(3, "pair"), *team(50, agents=1)]
    sample = qa_sample(tickets, WEEK, share=0)
    lowest = min(("2", "3"), key=lambda ticket_id: draw(WEEK, ticket_id))
    assert sample["small"] == ["1"] and sample["pair"] == [lowest]
    assert sample["a-0"] == [min((str(n) for n in range(50)), key=lambda t: draw(WEEK, t))]


def test_the_sample_is_the_lowest_draws() -> None:
    tickets = team(200, agents=1)
    by_draw = sorted((t.ticket_id for t in tickets), key=lambda ticket_id: draw(WEEK, ticket_id))
    assert qa_sample(tickets, WEEK)["a-0"] == sorted(by_draw[:20])


def test_another_week_samples_other_tickets() -> None:
    this_week = qa_sample(team(500, agents=1), WEEK)
    next_week = qa_sample(team(500, agents=1, at=NEXT_WEEK), week("2026-W48"))
    assert this_week["a-0"] != next_week["a-0"]


def test_only_tickets_solved_in_the_period_by_an_agent_are_sampled() -> None:
    tickets = [
        solved(1, "a-1", LAST_WEEK),
        solved(2, "a-2", NEXT_WEEK),
        solved(3, None),
        ticket(4, assignee="a-3", status="open"),
        solved(5, "a-4", WEEK.start),  # the start is in, the end is out
        solved(6, "a-5", WEEK.end),
    ]
    assert qa_sample(tickets, WEEK) == {"a-4": ["5"]}


# The report


def timing(p50_s: float) -> dict:
    return {"count": 3, "avg_s": p50_s, "p50_s": p50_s, "p90_s": 2 * p50_s}


def kpi_object(opened: int, first_response_s: float, fcr: float, csat: float, nps: float) -> dict:
    return {
        "tickets": {"opened": opened, "solved": 30, "reopened": 1, "backlog": 12},
        "first_response": timing(first_response_s),
        "first_response_business": timing(first_response_s / 2),
        "resolution": timing(86_400),
        "fcr_rate": fcr,
        "csat": {"responses": 20, "score_pct": csat, "response_rate": 0.5},
        "nps": {"responses": 10, "score": nps},
        "sla": {
            "first_response": {"met": 9, "breached": 1, "achievement": 0.9},
            "next_reply": {"met": 0, "breached": 0, "achievement": None},
            "resolution": {"met": 8, "breached": 2, "achievement": 0.8},
        },
    }


KPIS = {
    (WEEK.start, WEEK.end): {
        **kpi_object(42, 3900, fcr=0.75, csat=87.5, nps=30.0),
        "resolution_business": timing(28_800),
    },
    (BEFORE.start, BEFORE.end): kpi_object(40, 3600, fcr=0.7, csat=90.0, nps=20.0),
}


def fake_kpis(start: datetime, end: datetime) -> dict:
    return KPIS[start, end]


def opened(number: int, category: list[str], at: datetime = IN_WEEK) -> TicketProjection:
    return ticket(number, opened_at=at, category=category)


def answered(number: int, kind: str, score: int, at: datetime, agent: str) -> TicketProjection:
    return ticket(
        number, survey_kind=kind, survey_score=score, survey_answered_at=at, assignee=agent
    )


THIS_WEEKS = [
    *(opened(n, BILLING) for n in (101, 102, 103)),
    *(opened(n, LOGIN) for n in (104, 105)),
    opened(106, PIPED),
    opened(199, BILLING, LAST_WEEK),  # opened before the week: not counted in it
    ticket(
        107,
        priority="P3",
        assignee="a-1",
        subject="refund | urgent\nplease",
        sla={
            "resolution@2026-11-19T09:00:00+00:00": "breached",
            "first_response@2026-11-18T09:00:00+00:00": "breached",
        },
    ),
    ticket(
        108,
        priority="P1",
        assignee="a-2",
        sla={
            "first_response@2026-11-17T09:00:00+00:00": "breached",
            "next_reply@2026-11-17T10:00:00+00:00": "met",
            "resolution@2026-11-24T09:00:00+00:00": "breached",  # due next week
        },
    ),
    ticket(109, priority="P2", sla={"resolution@2026-11-12T09:00:00+00:00": "breached"}),
    answered(110, "csat", 2, IN_WEEK + timedelta(hours=1), "a-1"),
    answered(111, "csat", 3, IN_WEEK, "a-1"),
    answered(112, "nps", 6, IN_WEEK, "a-2"),
    answered(113, "nps", 7, IN_WEEK, "a-2"),
    answered(114, "csat", 1, LAST_WEEK, "a-2"),
    *(solved(n, "a-1") for n in range(120, 140)),
    solved(140, "a-2"),
]
LAST_WEEKS = [
    opened(201, BILLING, LAST_WEEK),
    *(opened(n, LOGIN, LAST_WEEK) for n in (202, 203)),
    opened(204, ["shipping", "delay", "customs"], LAST_WEEK),
]


@pytest.fixture(scope="module")
def weekly():
    return report(WEEK, THIS_WEEKS, LAST_WEEKS, fake_kpis, url)


def section(markdown: str, heading: str) -> str:
    """The text under a `## heading` up to the next one."""
    return markdown.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0].strip()


def csv_rows(made, name: str) -> list[list[str]]:
    return [row for row in csv.reader(io.StringIO(made.csv)) if row[0] == name]


def test_kpis_stand_against_the_previous_week_with_their_change(weekly) -> None:
    kpis = section(weekly.markdown, "KPIs")
    assert "| KPI | 2026-W47 | 2026-W46 | change | change % |" in kpis
    assert "| Opened | 42 | 40 | +2 | +5.0% |" in kpis
    assert "| First response p50 | 1h 05m | 1h 00m | +5m 00s | +8.3% |" in kpis
    assert "| First response (business hours) p90 | 1h 05m | 1h 00m | +5m 00s | +8.3% |" in kpis
    assert "| Resolution p50 | 1d 00h | 1d 00h | +0s | +0.0% |" in kpis
    assert "| Resolution (business hours) p50 | 8h 00m | — | — | — |" in kpis
    assert "| First-contact resolution | 75.0% | 70.0% | +5.0 pp | — |" in kpis
    assert "| CSAT | 87.5% | 90.0% | -2.5 pp | — |" in kpis
    assert "| NPS | 30.0 | 20.0 | +10.0 | — |" in kpis
    assert "| SLA first response | 90.0% | 90.0% | +0.0 pp | — |" in kpis
    assert "| SLA next reply | — | — | — | — |" in kpis


def test_kpis_in_csv_are_raw_numbers_in_seconds(weekly) -> None:
    rows = {row[1]: row[2:6] for row in csv_rows(weekly, "kpis")}
    assert rows["opened"] == ["42", "40", "2", "5.0"]
    assert rows["first_response_p50_s"] == ["3900", "3600", "300", "8.333"]
    assert rows["resolution_business_p50_s"] == ["28800", "", "", ""]
    assert rows["fcr_rate"] == ["0.75", "0.7", "0.05", ""]
    assert rows["sla_resolution_achievement"] == ["0.8", "0.8", "0.0", ""]


def test_top_categories_count_the_tickets_opened_in_the_week(weekly) -> None:
    top = section(weekly.markdown, "Top 10 categories of the tickets opened")
    assert top.splitlines()[2:] == [
        "| billing / refund / late | 3 | 1 | +2 | +200.0% |",
        "| tech / login / fails | 2 | 2 | +0 | +0.0% |",
        "| apps\\|mobile / crash, ios / v2 | 1 | 0 | +1 | new |",
    ]


def test_growing_categories_rank_by_growth_and_flag_new_ones(weekly) -> None:
    growing = section(weekly.markdown, "Fastest-growing categories")
    assert growing.splitlines()[2:] == [
        "| billing / refund / late | 3 | 1 | +2 | +200.0% |",
        "| apps\\|mobile / crash, ios / v2 | 1 | 0 | +1 | new |",
    ]
    rows = csv_rows(weekly, "growing_categories")
    assert [row[1:6] for row in rows] == [
        ["billing / refund / late", "3", "1", "2", "200.0"],
        ["apps|mobile / crash, ios / v2", "1", "0", "1", "new"],
    ]


def test_at_most_ten_categories_are_listed_most_frequent_first() -> None:
    tickets = [opened(n * 100 + k, [f"c{n:02d}"]) for n in range(12) for k in range(n + 1)]
    made = report(WEEK, tickets, [], fake_kpis, url)
    names = [row[1] for row in csv_rows(made, "top_categories")]
    assert names == [f"c{n:02d}" for n in range(11, 1, -1)]


def test_breached_tickets_are_listed_most_urgent_first_with_their_metrics(weekly) -> None:
    breaches = section(weekly.markdown, "Tickets that breached an SLA target")
    assert breaches.splitlines()[2:] == [
        f"| [108]({url('108')}) | P1 | first_response | a-2 | — |",
        f"| [107]({url('107')}) | P3 | first_response, resolution | a-1 | "
        "refund \\| urgent please |",
    ]
    assert [row[1:3] + row[6:] for row in csv_rows(weekly, "sla_breached")] == [
        ["first_response", "2026-11-17T09:00:00+00:00", "108", "P1", "a-2"],
        ["first_response", "2026-11-18T09:00:00+00:00", "107", "P3", "a-1"],
        ["resolution", "2026-11-19T09:00:00+00:00", "107", "P3", "a-1"],
    ]


def test_detractors_are_low_scores_answered_in_the_week(weekly) -> None:
    detractors = section(weekly.markdown, "Detractors")
    assert detractors.splitlines()[2:] == [
        f"| [112]({url('112')}) | NPS | 6 | a-2 | 2026-11-18 10:00 | — |",
        f"| [110]({url('110')}) | CSAT | 2 | a-1 | 2026-11-18 11:00 | — |",
    ]
    assert [row[1:3] + row[6:] for row in csv_rows(weekly, "detractors")] == [
        ["nps", "6", "112", "", "a-2"],
        ["csat", "2", "110", "", "a-1"],
    ]


def test_the_qa_sample_links_each_agents_tickets(weekly) -> None:
    sample = qa_sample(THIS_WEEKS, WEEK)
    assert set(sample) == {"a-1", "a-2"} and sample["a-2"] == ["140"]
    lines = section(weekly.markdown, "QA sample").splitlines()
    for agent, ticket_ids in sample.items():
        links = ", ".join(f"[{ticket_id}]({url(ticket_id)})" for ticket_id in ticket_ids)
        assert f"| {agent} | {len(ticket_ids)} | {links} |" in lines
    rows = csv_rows(weekly, "qa_sample")
    assert sorted((row[8], row[6]) for row in rows) == sorted(
        (agent, ticket_id) for agent, ids in sample.items() for ticket_id in ids
    )


def test_the_csv_parses_back_with_one_header_and_full_rows(weekly) -> None:
    rows = list(csv.reader(io.StringIO(weekly.csv)))
    assert tuple(rows[0]) == CSV_HEADER
    assert all(len(row) == len(CSV_HEADER) for row in rows)
    sections = {row[0] for row in rows[1:]}
    assert sections == {
        "kpis",
        "top_categories",
        "growing_categories",
        "sla_breached",
        "detractors",
        "qa_sample",
    }


def test_ticket_data_cannot_break_a_markdown_table(weekly) -> None:
    tables = [block for block in weekly.markdown.split("\n\n") if block.startswith("|")]
    assert len(tables) == 6
    for table in tables:
        cell_borders = {len(re.findall(r"(?<!\\)\|", line)) for line in table.splitlines()}
        assert len(cell_borders) == 1, table


def test_markup_in_ticket_data_is_escaped() -> None:
    tricky = ticket(
        1,
        priority="P2",
        subject="<b>*50%*</b> [x](y)",
        sla={"first_response@2026-11-17T09:00:00+00:00": "breached"},
    )
    made = report(WEEK, [tricky], [], fake_kpis, lambda t: f"https://kefu.example/t/{t}?a=|b c")
    assert (
        "| [1](https://kefu.example/t/1?a=%7Cb%20c) | P2 | first_response | — | "
        "\\<b\\>\\*50%\\*\\</b\\> \\[x\\](y) |"
    ) in made.markdown


def test_an_empty_week_says_so_in_each_section() -> None:
    made = report(WEEK, [], [], fake_kpis, url)
    for heading, empty in [
        ("Top 10 categories of the tickets opened", "No tickets were opened."),
        ("Fastest-growing categories", "No category grew."),
        ("Tickets that breached an SLA target", "No SLA target was breached."),
        ("Detractors", "No detractors."),
    ]:
        assert section(made.markdown, heading) == empty
    assert section(made.markdown, "QA sample").endswith("No tickets were solved.")
    assert made.markdown.startswith(
        "# Service analysis report 2026-W47\n\n2026-11-16 to 2026-11-22"
    )


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(0, "0s"), (45, "45s"), (65, "1m 05s"), (3900, "1h 05m"), (93_600, "1d 02h")],
)
def test_durations_read_in_their_two_largest_units(seconds: float, shown: str) -> None:
    assert human_duration(seconds) == shown

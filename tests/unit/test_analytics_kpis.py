"""KPIs of a period from projections, against figures worked out by hand."""

import tracemalloc
from datetime import UTC, datetime, timedelta

import pytest

from kefu.services.analytics.agents import AgentProjection, PresenceChange
from kefu.services.analytics.kpis import TIMED, Measure, kpis, percentile
from kefu.services.analytics.kpis import Period as Span
from kefu.services.analytics.projection import TicketProjection, TimelineEntry, Took
from kefu.shared.events.ticket import Customer

START = datetime(2026, 11, 23, tzinfo=UTC)
END = START + timedelta(days=1)
BEFORE = START - timedelta(minutes=1)


def at(minutes: float) -> datetime:
    return START + timedelta(minutes=minutes)


def took(when: datetime, calendar_s: float, business_s: float | None = None) -> Took:
    business = calendar_s if business_s is None else business_s
    return Took(at=when, calendar_s=calendar_s, business_s=business)


def ticket(ticket_id: str = "t", **fields) -> TicketProjection:
    return TicketProjection(ticket_id=ticket_id, **fields)


def agent(agent_id: str, *changes: tuple[str, datetime]) -> AgentProjection:
    history = [PresenceChange(status=status, at=when) for status, when in changes]
    return AgentProjection(agent_id=agent_id, history=history)


def of(tickets, agents=(), by=None):
    return kpis(tickets, agents, START, END, by)


def answered(kind: str, score: int, issued: datetime | None, when: datetime | None):
    return ticket(
        survey_kind=kind, survey_score=score, survey_issued_at=issued, survey_answered_at=when
    )


EMPTY_TIMING = {"count": 0, "avg_s": None, "p50_s": None, "p90_s": None}
EMPTY_SLA = {"met": 0, "breached": 0, "achievement": None}


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([], 0.5, None),
        ([70.0], 0.5, 70.0),  # n=1: every rank is 1
        ([70.0], 0.9, 70.0),
        ([30.0, 10.0], 0.5, 10.0),  # sorted [10, 30]; ceil(0.5×2) = 1 → 10
        ([30.0, 10.0], 0.9, 30.0),  # ceil(0.9×2) = ceil(1.8) = 2 → 30
        ([50.0, 10.0, 40.0, 20.0, 30.0], 0.5, 30.0),  # ceil(2.5) = 3 → 30
        ([50.0, 10.0, 40.0, 20.0, 30.0], 0.9, 50.0),  # ceil(4.5) = 5 → 50
        ([100.0, 30.0, 10.0, 90.0, 20.0, 80.0, 40.0, 70.0, 50.0, 60.0], 0.5, 50.0),  # rank 5
        ([100.0, 30.0, 10.0, 90.0, 20.0, 80.0, 40.0, 70.0, 50.0, 60.0], 0.9, 90.0),  # rank 9
        ([float(n) for n in range(1, 101)], 0.55, 55.0),  # 0.55×100 is 55.00000000000001
    ],
)
def test_percentile_is_the_nearest_rank(values, q, expected) -> None:
    assert percentile(values, q) == expected


def test_no_tickets_and_no_agents_give_zero_counts_and_no_ratios() -> None:
    result = of([], by="channel")
    assert result == {
        "from": "2026-11-23T00:00:00.000Z",
        "to": "2026-11-24T00:00:00.000Z",
        "tickets": {"opened": 0, "solved": 0, "reopened": 0, "backlog": 0},
        **{name: EMPTY_TIMING for name in TIMED},
        **{f"{name}_business": EMPTY_TIMING for name in TIMED},
        "fcr_rate": None,
        "csat": {"responses": 0, "score_pct": None, "response_rate": None},
        "nps": {"responses": 0, "score": None},
        "sla": {"first_response": EMPTY_SLA, "next_reply": EMPTY_SLA, "resolution": EMPTY_SLA},
        "utilisation": None,
        "by": {},
    }


def test_ticket_counts_take_events_from_start_up_to_but_not_including_end() -> None:
    tickets = [
        ticket("a", status="new", opened_at=START),  # opened at start: counted; backlog
        ticket("b", status="open", opened_at=END),  # opened at end: neither
        ticket("c", status="solved", opened_at=BEFORE, solved_at=END - timedelta(seconds=1)),
        ticket("d", status="open", opened_at=BEFORE, reopened_at=at(30)),  # backlog
        ticket("e", status="solved", opened_at=BEFORE, solved_at=END),  # solved at end: no
        ticket("f", status="closed", opened_at=BEFORE, solved_at=BEFORE),
    ]
    # opened: a; solved: c; reopened: d; backlog (not solved or closed, opened before end): a, d
    assert of(tickets)["tickets"] == {"opened": 1, "solved": 1, "reopened": 1, "backlog": 2}


def test_first_response_counts_the_replies_made_in_the_period_in_both_clocks() -> None:
    tickets = [
        ticket("a", first_response=took(at(10), 600, 300)),
        ticket("b", first_response=took(at(20), 1200, 1200)),
        ticket("c", first_response=took(START, 300, 0)),
        ticket("d", first_response=took(BEFORE, 50)),
        ticket("e", first_response=took(END, 70)),
        ticket("f"),  # not answered yet
    ]
    result = of(tickets)
    # calendar [300, 600, 1200]: mean 2100/3 = 700; rank ceil(1.5) = 2 → 600; ceil(2.7) = 3
    assert result["first_response"] == {"count": 3, "avg_s": 700, "p50_s": 600, "p90_s": 1200}
    # business [0, 300, 1200]: mean 1500/3 = 500
    assert result["first_response_business"] == {
        "count": 3,
        "avg_s": 500,
        "p50_s": 300,
        "p90_s": 1200,
    }


def test_next_reply_counts_each_reply_made_in_the_period() -> None:
    replies = [took(BEFORE, 100), took(at(5), 200, 100), took(at(60), 400, 200), took(END, 800)]
    result = of([ticket(next_replies=replies)])
    # calendar [200, 400]: mean 300; ceil(0.5×2) = 1 → 200; ceil(1.8) = 2 → 400
    assert result["next_reply"] == {"count": 2, "avg_s": 300, "p50_s": 200, "p90_s": 400}
    # business [100, 200]: mean 150
    assert result["next_reply_business"] == {"count": 2, "avg_s": 150, "p50_s": 100, "p90_s": 200}


def test_first_and_full_resolution_count_by_the_solve_that_ended_them() -> None:
    tickets = [
        ticket(
            "a",
            first_resolution=took(at(30), 1800, 900),
            full_resolution=took(at(90), 5400, 2700),
        ),
        ticket(
            "b",
            first_resolution=took(BEFORE, 60),  # first solved before the period, solved again
            full_resolution=took(at(120), 7200, 3600),
        ),
    ]
    result = of(tickets)
    assert result["first_resolution"] == {
        "count": 1,
        "avg_s": 1800,
        "p50_s": 1800,
        "p90_s": 1800,
    }
    assert result["first_resolution_business"]["avg_s"] == 900
    # calendar [5400, 7200]: mean 6300; rank 1 → 5400; rank 2 → 7200
    assert result["resolution"] == {"count": 2, "avg_s": 6300, "p50_s": 5400, "p90_s": 7200}
    # business [2700, 3600]: mean 3150
    assert result["resolution_business"] == {
        "count": 2,
        "avg_s": 3150,
        "p50_s": 2700,
        "p90_s": 3600,
    }


def test_requester_wait_and_handling_are_those_of_the_tickets_solved_in_the_period() -> None:
    tickets = [
        ticket(
            "a",
            solved_at=at(90),
            requester_wait=took(at(90), 100, 10),
            handling=took(at(90), 60, 6),
        ),
        ticket(
            "b", solved_at=at(100), requester_wait=took(at(100), 200, 20), handling=took(at(50), 30)
        ),
        ticket("c", solved_at=at(110), requester_wait=took(at(110), 200, 20)),  # never assigned
        ticket("d", solved_at=END, requester_wait=took(at(50), 999), handling=took(at(50), 999)),
    ]
    result = of(tickets)
    # wait [100, 200, 200]: mean 500/3 = 166.667; rank 2 → 200; rank 3 → 200
    assert result["requester_wait"] == {
        "count": 3,
        "avg_s": 166.667,
        "p50_s": 200,
        "p90_s": 200,
    }
    # business [10, 20, 20]: mean 50/3 = 16.667
    assert result["requester_wait_business"]["avg_s"] == 16.667
    # handling [30, 60] (c has none): mean 45; rank 1 → 30; rank 2 → 60
    assert result["handling"] == {"count": 2, "avg_s": 45, "p50_s": 30, "p90_s": 60}
    # business [6, 30]: mean 18
    assert result["handling_business"]["avg_s"] == 18


def test_fcr_is_the_share_of_solved_tickets_solved_with_one_reply_and_never_reopened() -> None:
    tickets = [
        ticket("one-touch", solved_at=at(10), public_replies=1),
        ticket("reopened", solved_at=at(20), public_replies=1, reopened=1),
        ticket("two-replies", solved_at=at(30), public_replies=2),
        ticket("solved-at-end", solved_at=END, public_replies=1),
        ticket("unsolved", public_replies=1),
    ]
    # solved in the period: one-touch, reopened, two-replies → 1/3
    assert of(tickets)["fcr_rate"] == 0.333


def test_csat_is_the_share_of_4_and_5_among_the_responses_of_the_period() -> None:
    tickets = [
        answered("csat", 5, at(10), at(20)),
        answered("csat", 4, at(10), at(30)),
        answered("csat", 2, at(10), at(40)),
        ticket(survey_kind="csat", survey_issued_at=at(50)),  # not answered
        answered("csat", 5, BEFORE, at(5)),  # answered in the period, issued before it
        answered("csat", 1, at(60), END),  # issued in the period, answered at its end
        answered("nps", 9, at(10), at(20)),
    ]
    # responses [5, 4, 2, 5]: 3 of 4 are 4-5 → 75%; issued in the period: 5 → 4/5
    assert of(tickets)["csat"] == {"responses": 4, "score_pct": 75.0, "response_rate": 0.8}


@pytest.mark.parametrize(
    ("scores", "expected"),
    [
        ([10, 9, 8, 7, 6, 0], 0.0),  # (2 promoters − 2 detractors) / 6
        ([10, 10, 9, 3], 50.0),  # (3 − 1) / 4 = 0.5
        ([9, 10, 6], 33.3),  # (2 − 1) / 3 = 33.33… → 33.3
        ([0, 5, 8], -66.7),  # (0 − 2) / 3 = −66.66… → −66.7
    ],
)
def test_nps_is_the_percentage_of_promoters_minus_detractors(scores, expected) -> None:
    tickets = [answered("nps", score, at(1), at(2)) for score in scores]
    outside = [answered("nps", 0, at(1), END), answered("csat", 1, at(1), at(2))]
    assert of(tickets + outside)["nps"] == {"responses": len(scores), "score": expected}


def test_sla_counts_targets_by_metric_and_due_time() -> None:
    def target(metric: str, due: datetime) -> str:
        return f"{metric}@{due.isoformat()}"

    tickets = [
        ticket(
            "a",
            sla={
                target("first_response", at(10)): "met",
                target("resolution", at(100)): "breached",
            },
        ),
        ticket(
            "b",
            sla={
                target("first_response", at(20)): "breached",
                target("next_reply", START): "met",
                target("next_reply", END): "breached",
                target("resolution", BEFORE): "met",
            },
        ),
        ticket("c", sla={target("first_response", at(30)): "met"}),
    ]
    assert of(tickets)["sla"] == {
        "first_response": {"met": 2, "breached": 1, "achievement": 0.667},  # 2/3
        "next_reply": {"met": 1, "breached": 0, "achievement": 1.0},  # the one due at end is out
        "resolution": {"met": 0, "breached": 1, "achievement": 0.0},  # the one due before is out
    }


def test_utilisation_is_handling_time_over_the_agents_online_time() -> None:
    agents = [
        agent("ann", ("online", START - timedelta(hours=1)), ("offline", at(120))),  # 7200 s
        agent("bob", ("online", at(600)), ("away", at(660)), ("online", at(1380))),  # 3600+3600
        agent("cy", ("offline", BEFORE)),  # 0 s
    ]
    tickets = [
        ticket("a", solved_at=at(100), handling=took(at(100), 3600, 1800)),
        ticket("b", solved_at=at(200), handling=took(at(200), 1440)),
        ticket("c", solved_at=END, handling=took(at(50), 9999)),
    ]
    # (3600 + 1440) / (7200 + 7200) = 5040 / 14400 = 0.35
    assert of(tickets, agents)["utilisation"] == 0.35
    assert of(tickets, [agents[2]])["utilisation"] is None
    assert of(tickets, [])["utilisation"] is None


GROUPED = [
    ticket(
        "a",
        channel="email",
        priority="P1",
        assignee="ann",
        skills=["billing", "tech"],
        category=["billing", "refund"],
        customer=Customer(address="vip@example.com", tier="vip"),
        opened_at=at(10),
    ),
    ticket("b", channel="chat", priority="P3", skills=["tech"], opened_at=at(20)),
    ticket(
        "c",
        channel="email",
        priority="P3",
        assignee="bob",
        skills=["general"],
        category=["billing", "invoice"],
        customer=Customer(address="jo@example.com"),
        opened_at=at(30),
    ),
]


@pytest.mark.parametrize(
    ("by", "opened"),
    [
        ("channel", {"chat": 1, "email": 2}),
        ("priority", {"P1": 1, "P3": 2}),
        ("agent", {"ann": 1, "bob": 1, "unassigned": 1}),
        ("skill", {"billing": 1, "general": 1, "tech": 2}),  # a is in billing and in tech
        ("category", {"billing": 2, "uncategorised": 1}),
        ("customer_tier", {"standard": 2, "vip": 1}),  # b has no customer
    ],
)
def test_grouping_puts_each_ticket_in_its_groups(by, opened) -> None:
    result = of(GROUPED, by=by)
    assert {key: group["tickets"]["opened"] for key, group in result["by"].items()} == opened
    assert result["tickets"]["opened"] == 3


def test_each_group_holds_every_block_of_the_whole() -> None:
    result = of(GROUPED, by="channel")
    assert set(result["by"]["email"]) == set(result) - {"from", "to", "by"}
    assert "by" not in result["by"]["email"]


def test_grouped_by_agent_each_group_counts_that_agents_online_time() -> None:
    agents = [
        agent("ann", ("online", START), ("offline", at(60))),  # 3600 s
        agent("bob", ("online", at(60)), ("offline", at(120))),  # 3600 s
    ]
    tickets = [
        ticket("a", assignee="ann", solved_at=at(30), handling=took(at(30), 1800)),
        ticket("b", assignee="bob", solved_at=at(90), handling=took(at(90), 900)),
        ticket("c", solved_at=at(95), handling=took(at(95), 600)),  # handled, then unassigned
    ]
    result = of(tickets, agents, by="agent")
    utilisation = {key: group["utilisation"] for key, group in result["by"].items()}
    # ann 1800/3600; bob 900/3600; nobody named "unassigned" is online
    assert utilisation == {"ann": 0.5, "bob": 0.25, "unassigned": None}
    # the whole: (1800 + 900 + 600) / 7200 = 3300/7200 = 0.458333…
    assert result["utilisation"] == 0.458


def test_grouped_by_priority_each_group_computes_its_own_timings() -> None:
    tickets = [
        ticket("a", priority="P1", first_response=took(at(5), 60)),
        ticket("b", priority="P1", first_response=took(at(6), 120)),
        ticket("c", priority="P2", first_response=took(at(7), 900)),
    ]
    groups = of(tickets, by="priority")["by"]
    # P1 [60, 120]: mean 90, rank 1 → 60, rank 2 → 120; P2 [900]
    assert groups["P1"]["first_response"] == {"count": 2, "avg_s": 90, "p50_s": 60, "p90_s": 120}
    assert groups["P2"]["first_response"] == {"count": 1, "avg_s": 900, "p50_s": 900, "p90_s": 900}


def busy_day(count: int):
    """`count` tickets with every figure's input, in several groups, made one at a time."""
    for n in range(count):
        minute = n % 1440
        yield ticket(
            f"t{n}",
            status=("open", "solved")[n % 2],
            channel=("email", "chat", "sms")[n % 3],
            priority=("P1", "P2", "P3", "P4")[n % 4],
            opened_at=at(minute),
            solved_at=at(minute + 1) if n % 2 else None,
            public_replies=1,
            first_response=took(at(minute), 60 + n % 7),
            next_replies=[took(at(minute), 30 + n % 5)],
            first_resolution=took(at(minute + 1), 120 + n % 11),
            full_resolution=took(at(minute + 1), 120 + n % 13),
            requester_wait=took(at(minute + 1), 100 + n % 3),
            handling=took(at(minute + 1), 90 + n % 17),
            survey_kind="csat",
            survey_score=1 + n % 5,
            survey_issued_at=at(minute),
            survey_answered_at=at(minute),
            sla={f"first_response@{at(minute + 5).isoformat()}": ("met", "breached")[n % 9 == 0]},
            timeline=[TimelineEntry(id=f"e{n}-{k}", type="x", at=at(minute)) for k in range(20)],
        )


def test_one_pass_over_tickets_made_one_at_a_time_gives_what_the_list_gives() -> None:
    agents = [agent("a1", ("online", BEFORE))]
    for by in ("channel", "priority", None):
        assert of(busy_day(300), agents, by) == of(list(busy_day(300)), agents, by)


def test_a_measure_of_several_groupings_gives_each_grouping_as_alone() -> None:
    agents = [agent("a1", ("online", BEFORE))]
    measure = Measure(Span(START, END), ("channel", "priority"))
    for one in busy_day(200):
        measure.add(one)
    for by in ("channel", "priority", None):
        assert measure.kpis(agents, by) == of(busy_day(200), agents, by)


def test_a_measure_keeps_numbers_not_tickets() -> None:
    """A day of tickets, whole and in two groupings, holds less than 350 bytes a
    ticket (each of the twelve durations once per grouping, 8 bytes each); one ticket's
    projection alone takes several kilobytes."""
    tickets = 4_000
    measure = Measure(Span(START, END), ("channel", "priority"))
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for one in busy_day(tickets):
            measure.add(one)
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert held < 350 * tickets
    assert measure.kpis([], "channel")["tickets"]["opened"] == tickets

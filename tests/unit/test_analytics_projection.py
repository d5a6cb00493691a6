"""The projection fold: current fields and counters, whatever order the topics deliver in."""

from datetime import UTC, datetime, timedelta

from kefu.services.analytics.kpis import kpis
from kefu.services.analytics.projection import TIMELINE_SIZE, TicketProjection, fold
from kefu.shared.clock import AlwaysOpen, business_hours
from kefu.shared.events import new_event
from kefu.shared.events.routing import TicketAssigned, TicketUnassigned
from kefu.shared.events.sla import SlaBreached, SlaMet
from kefu.shared.events.survey import SurveyIssued
from kefu.shared.events.ticket import (
    AgentReplied,
    Escalated,
    MessageReceived,
    Party,
    PriorityChanged,
    Reopened,
    StatusChanged,
)
from kefu.shared.policy import Calendar
from tests import sla_events as ev
from tests.factories import NOW, message, opening, survey_answer


def event(data, at=NOW):
    return new_event(
        data, id=f"e-{data.event_type}-{at}", source="kefu/t", correlationid="c", time=at
    )


ALWAYS_OPEN = AlwaysOpen()


def folded(*events, clock=ALWAYS_OPEN):
    """The projection after the events; a projection first in `events` is folded on."""
    projection = events[0] if isinstance(events[0], TicketProjection) else None
    for one in events[1:] if projection else events:
        projection = fold(projection, one, lambda _: clock)
    return projection


def later(minutes: int):
    return NOW + timedelta(minutes=minutes)


def test_opening_events_fold_into_a_new_ticket() -> None:
    opened, received = opening(message("sms", "s-1"))
    projection = folded(opened, received)
    assert (projection.status, projection.priority, projection.tier) == ("new", "P3", 1)
    assert projection.channel == "sms" and projection.messages == 1
    assert projection.customer.address == "+8613800138000"
    assert [entry.id for entry in projection.timeline] == [opened.id, received.id]


def test_a_ticket_opened_by_a_strangers_token_names_the_ticket_it_relates_to() -> None:
    projection = folded(*opening(message(address="mallory@x.cn"), related_to="1001"))
    assert (projection.related_to, projection.follow_up_of) == ("1001", None)


def test_the_timeline_keeps_the_latest_events_only() -> None:
    opened, _ = opening(message("email", "m-1"))
    events = [event(Reopened(ticket_id="1001", by="c", at=later(n)), later(n)) for n in range(60)]
    projection = folded(opened, *events)
    assert len(projection.timeline) == TIMELINE_SIZE
    assert projection.timeline[-1].at == later(59) and projection.reopened == 60


def test_status_priority_tier_and_assignee_follow_the_events() -> None:
    opened, received = opening(message("email", "m-1"))
    projection = folded(
        opened,
        received,
        event(
            TicketAssigned(
                ticket_id="1001",
                agent_id="a-1",
                strategy="least_loaded",
                tier=1,
                waited_ms=5,
                at=later(1),
            )
        ),
        event(
            AgentReplied(ticket_id="1001", agent_id="a-1", command_id="c1", replied_at=later(2)),
            later(2),
        ),
        event(
            PriorityChanged(ticket_id="1001", from_priority="P3", to="P1", by="a-1", at=later(3)),
            later(3),
        ),
        event(
            Escalated(ticket_id="1001", from_tier=1, to_tier=2, reason=None, by="a-1", at=later(4)),
            later(4),
        ),
        event(
            StatusChanged(ticket_id="1001", from_status="open", to="solved", by="a-1", at=later(5)),
            later(5),
        ),
    )
    assert (projection.status, projection.priority, projection.tier) == ("solved", "P1", 2)
    assert projection.assignee == "a-1" and projection.public_replies == 1
    assert projection.first_public_reply_at == later(2) and projection.solved_at == later(5)
    reopened = folded(
        projection, event(Reopened(ticket_id="1001", by="customer", at=later(6)), later(6))
    )
    assert reopened.status == "open" and reopened.reopened == 1


def test_an_assignment_before_the_opened_event_is_kept() -> None:
    opened, _ = opening(message("email", "m-1"))
    assigned = event(
        TicketAssigned(
            ticket_id="1001", agent_id="a-1", strategy="sticky", tier=1, waited_ms=0, at=NOW
        )
    )
    projection = folded(assigned, opened)
    assert projection.status == "open" and projection.assignee == "a-1"
    assert projection.channel == "email"


def test_unassigned_clears_only_the_agent_it_names() -> None:
    opened, _ = opening(message("email", "m-1"))
    assigned = event(
        TicketAssigned(
            ticket_id="1001", agent_id="a-2", strategy="transfer", tier=1, waited_ms=0, at=NOW
        )
    )
    stale = event(
        TicketUnassigned(ticket_id="1001", agent_id="a-1", reason="transfer", at=NOW), later(1)
    )
    assert folded(opened, assigned, stale).assignee == "a-2"


def status(before, after, minutes):
    data = StatusChanged(
        ticket_id="1001", from_status=before, to=after, by="a-1", at=later(minutes)
    )
    return event(data, later(minutes))


def reply(minutes):
    data = AgentReplied(
        ticket_id="1001", agent_id="a-1", command_id=f"c{minutes}", replied_at=later(minutes)
    )
    return event(data, later(minutes))


def customer(minutes, survey_id=None):
    data = MessageReceived(
        ticket_id="1001",
        message_id=f"m{minutes}",
        channel="email",
        sender=Party(address="jane@example.com"),
        text="and?",
        received_at=later(minutes),
        survey_id=survey_id,
    )
    return event(data, later(minutes))


def assigned(minutes, agent="a-1"):
    data = TicketAssigned(
        ticket_id="1001",
        agent_id=agent,
        strategy="least_loaded",
        tier=1,
        waited_ms=0,
        at=later(minutes),
    )
    return event(data, later(minutes))


def test_durations_in_calendar_seconds() -> None:
    opened, received = opening(message("email", "m-1"))
    projection = folded(
        opened,
        received,  # new at 0
        assigned(2),  # open, handled from 2
        reply(10),  # first response 10 min
        customer(20),
        customer(25),  # the next reply waits from 20 (25 joins the same wait)
        reply(32),  # next reply 12 min
        status("open", "pending", 40),  # requester wait 0-40, handling 2-40
        status("pending", "open", 50),
        status("open", "solved", 55),  # +5 wait, +5 handling; resolution 55
        customer(60, survey_id="1001-1"),  # a survey answer starts no wait
    )
    minutes = lambda took: took.calendar_s / 60  # noqa: E731
    assert minutes(projection.first_response) == 10
    assert [minutes(t) for t in projection.next_replies] == [12]
    assert minutes(projection.requester_wait) == 45 and minutes(projection.handling) == 43
    assert minutes(projection.first_resolution) == minutes(projection.full_resolution) == 55
    assert projection.waiting_since is None and projection.one_touch() is False


def test_first_and_full_resolution_differ_after_a_reopen() -> None:
    opened, received = opening(message("email", "m-1"))
    projection = folded(
        opened,
        received,
        reply(5),
        status("new", "solved", 10),
        event(Reopened(ticket_id="1001", by="customer", at=later(20)), later(20)),
        status("open", "solved", 30),
    )
    assert projection.first_resolution.calendar_s == 600
    assert projection.full_resolution.calendar_s == 1800
    assert projection.reopened == 1 and projection.reopened_at == later(20)
    assert projection.first_solved_at == later(10) and projection.solved_at == later(30)


def test_business_seconds_on_the_tickets_calendar() -> None:
    office = business_hours(Calendar(timezone="UTC", hours={"mon-fri": "09:00-18:00"}))
    friday_evening = datetime(2026, 11, 20, 17, 30, tzinfo=UTC)
    opened, received = opening(message("email", "m-1", received_at=friday_evening.isoformat()))
    monday = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
    answered = AgentReplied(ticket_id="1001", agent_id="a", command_id="c", replied_at=monday)
    projection = folded(opened, received, event(answered, monday), clock=office)
    assert projection.first_response.calendar_s == (2 * 24 * 3600) + 16 * 3600
    assert projection.first_response.business_s == 3600  # 17:30-18:00 and 09:00-09:30


def test_sla_outcomes_by_target_a_breach_is_never_undone() -> None:
    due = later(15)
    breached = SlaBreached(
        ticket_id="1001",
        policy="p",
        metric="first_response",
        priority="P1",
        due_at=due,
        breached_at=due,
        agent_id=None,
    )
    met = SlaMet(
        ticket_id="1001", policy="p", metric="first_response", due_at=due, met_at=later(20)
    )
    other = SlaMet(
        ticket_id="1001", policy="p", metric="next_reply", due_at=later(90), met_at=later(80)
    )
    opened, _ = opening(message("email", "m-1"))
    projection = folded(
        opened, event(breached, due), event(met, later(20)), event(other, later(80))
    )
    assert projection.sla == {
        f"first_response@{due.isoformat()}": "breached",
        f"next_reply@{later(90).isoformat()}": "met",
    }


def test_surveys_issued_and_answered() -> None:
    opened, _ = opening(message("email", "m-1"))
    issued = SurveyIssued(
        survey_id="1001-1", ticket_id="1001", kind="csat", url="u", expires_at=later(100)
    )
    answered = survey_answer(4, later(30), agent_id="a")
    projection = folded(opened, event(issued, later(10)), event(answered, later(30)))
    assert (projection.surveys_issued, projection.survey_issued_at) == (1, later(10))
    assert (projection.csat, projection.nps, projection.survey_answered_at) == (4, None, later(30))


def test_an_assignment_read_after_the_solve_changes_no_duration() -> None:
    opened, received = opening(message("email", "m-1"))
    projection = folded(opened, received, reply(5), status("new", "solved", 30), assigned(1))
    assert projection.status == "solved" and projection.assignee == "a-1"
    assert projection.full_resolution.calendar_s == 1800 and projection.solved_at == later(30)


def test_a_category_change_moves_the_ticket_between_categories() -> None:
    opened, received = opening(message("email", "m-1"))
    projection = folded(opened, received, ev.category("1001", ["billing", "refund", "x"], later(1)))
    assert projection.category == ["billing", "refund", "x"]
    assert projection.timeline[-1].type == "kefu.ticket.category_changed"
    grouped = kpis([projection], [], NOW - timedelta(hours=1), NOW + timedelta(hours=1), "category")
    assert {key: group["tickets"]["opened"] for key, group in grouped["by"].items()} == {
        "billing": 1
    }


def test_a_merged_ticket_is_closed_names_its_target_and_keeps_both_in_its_timeline() -> None:
    opened, received = opening(message("email", "m-1"))
    merged, closed = ev.merged("1001", "1002", later(5), before="new")
    projection = folded(opened, received, merged, closed)
    assert (projection.status, projection.merged_into, projection.closed_at) == (
        "closed",
        "1002",
        later(5),
    )
    assert projection.solved_at is None  # a merge resolves nothing
    assert [e.type for e in projection.timeline][-2:] == [
        "kefu.ticket.merged",
        "kefu.ticket.status_changed",
    ]

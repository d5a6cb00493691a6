"""The projection fold: current fields and counters, whatever order the topics deliver in."""

from datetime import timedelta

from services.analytics.projection import TIMELINE_SIZE, fold
from shared.events import new_event
from shared.events.routing import TicketAssigned, TicketUnassigned
from shared.events.ticket import (
    AgentReplied,
    Escalated,
    PriorityChanged,
    Reopened,
    StatusChanged,
)
from tests.factories import NOW, message, opening


def event(data, at=NOW):
    return new_event(
        data, id=f"e-{data.event_type}-{at}", source="kefu/t", correlationid="c", time=at
    )


def folded(*events):
    projection = None
    for one in events:
        projection = fold(projection, one)
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
    reopened = fold(
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

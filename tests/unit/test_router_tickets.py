"""What each event does to the router's view of a ticket and of an agent."""

from datetime import timedelta

import pytest

from kefu.services.router.choice import Agent
from kefu.services.router.roster import presence, release, take
from kefu.services.router.tickets import (
    assigned,
    changed,
    entered_queue,
    given_back,
    gone_from,
    let_go,
    opened,
    routes,
    unopened,
)
from kefu.shared.events.agent import AgentStatusChanged
from kefu.shared.events.sla import (
    SlaBreached,
    SlaEscalated,
    SlaMet,
    SlaStarted,
    SlaTarget,
    SlaWarning,
)
from kefu.shared.events.ticket import (
    Escalated,
    PriorityChanged,
    Reopened,
    StatusChanged,
    TransferRequested,
)
from tests import sla_events as ev
from tests.factories import NOW, message, opening


def held(agent_id: str = "a"):
    opened_data = opening(message("email", "m-1"))[0].data
    return assigned(opened(opened_data, None).ticket, agent_id)


def test_a_new_ticket_waits_ranked_and_prefers_the_first_owner() -> None:
    data = opening(message("email", "m-1", customer_tier="vip"))[0].data
    change = opened(data, "owner")
    assert change.route and change.ticket.status == "waiting"
    assert (change.ticket.preferred, change.ticket.sticky) == ("owner", True)
    assert change.ticket.queue_rank.startswith("1|P2|9999")  # vip raised P3 to P2


def test_solving_frees_the_slot_and_reopening_waits_for_the_last_owner() -> None:
    solved = changed(
        held(),
        StatusChanged(ticket_id="1001", from_status="open", to="solved", by="a", at=NOW),
        NOW,
    )
    assert (solved.ticket.status, solved.frees, solved.route) == ("done", "a", False)
    back = changed(solved.ticket, Reopened(ticket_id="1001", by="customer", at=NOW), NOW)
    assert back.route and (back.ticket.preferred, back.ticket.sticky) == ("a", True)


def test_pending_keeps_the_slot() -> None:
    pending = changed(
        held(),
        StatusChanged(ticket_id="1001", from_status="open", to="pending", by="a", at=NOW),
        NOW,
    )
    assert pending.frees is None and pending.ticket.status == "assigned"


def test_a_transfer_gives_it_back_and_avoids_who_gave_it() -> None:
    to_skill = TransferRequested(
        ticket_id="1001",
        from_agent_id="a",
        to_agent_id=None,
        to_skill="billing",
        reason=None,
        at=NOW,
    )
    change = changed(held("a"), to_skill, NOW)
    assert (change.frees, change.unassigned, change.route) == ("a", "transfer", True)
    assert change.ticket.skills == ["billing"] and change.ticket.avoid == "a"
    assert change.ticket.label == "transfer"


def test_escalations_raise_the_tier_and_give_it_back() -> None:
    by_agent = changed(
        held(),
        Escalated(ticket_id="1001", from_tier=1, to_tier=2, reason=None, by="a", at=NOW),
        NOW,
    )
    assert (by_agent.ticket.tier, by_agent.unassigned) == (2, "escalation")
    step = SlaEscalated(
        ticket_id="1001",
        policy="p",
        metric="resolution",
        level=2,
        notify=[],
        raise_tier=True,
        at=NOW,
    )
    assert changed(held(), step, NOW).ticket.tier == 2
    quiet = step.model_copy(update={"raise_tier": False})
    assert changed(held(), quiet, NOW).frees is None


def test_priority_and_sla_due_time_move_it_in_the_queue() -> None:
    ticket = opened(opening(message("email", "m-1"))[0].data, None).ticket
    due = SlaStarted(
        ticket_id="1001",
        policy="p",
        targets=[SlaTarget(metric="first_response", due_at=NOW + timedelta(minutes=15))],
    )
    sooner = changed(ticket, due, NOW).ticket
    higher = changed(
        ticket, PriorityChanged(ticket_id="1001", from_priority="P3", to="P1", by="a", at=NOW), NOW
    ).ticket
    assert higher.queue_rank < sooner.queue_rank < ticket.queue_rank
    early = unopened(due)
    assert early.status == "unopened" and early.due_at == NOW + timedelta(minutes=15)


TRANSFER_WAIT = timedelta(minutes=10)


def test_offline_gives_back_for_anyone_and_the_queue_arms_relaxation() -> None:
    change = given_back(held("a"), NOW)
    assert (change.unassigned, change.ticket.avoid, change.ticket.status) == (
        "agent_offline",
        None,
        "waiting",
    )
    armed = entered_queue(change.ticket, timedelta(minutes=10), TRANSFER_WAIT)
    assert armed.queued == 1 and armed.wake_at == "2026-11-23T10:10:00.000Z"
    assert entered_queue(change.ticket, None, TRANSFER_WAIT).wake_at is None


def test_a_transfer_to_a_named_agent_is_held_for_her_then_let_go() -> None:
    asked = TransferRequested(
        ticket_id="1001", from_agent_id="a", to_agent_id="b", to_skill=None, reason="vip", at=NOW
    )
    change = changed(held("a"), asked, NOW)
    held_for_b = change.ticket
    assert (held_for_b.held_for, held_for_b.transfer_from, held_for_b.avoid) == ("b", "a", "a")
    assert held_for_b.need().held_for == "b" and change.unassigned == "transfer"
    armed = entered_queue(held_for_b, timedelta(minutes=1), TRANSFER_WAIT)
    assert armed.wake_at == "2026-11-23T10:10:00.000Z"  # the hold, not the relaxation
    free = let_go(armed)
    assert (free.held_for, free.label, free.need().held_for) == (None, "transfer_fallback", None)
    to_skill = TransferRequested(
        ticket_id="1001", from_agent_id="a", to_agent_id=None, to_skill="billing", reason="", at=NOW
    )
    assert changed(held("a"), to_skill, NOW).ticket.held_for is None


def presence_of(status: str, **fields) -> AgentStatusChanged:
    values = {"skills": ["general"], "capacity": 2, "tier": 1, "at": NOW, **fields}
    return AgentStatusChanged(agent_id="a", status=status, **values)


def test_presence_says_what_it_gives_back_and_when_capacity_appears() -> None:
    came = presence(None, presence_of("online"))
    assert came.capacity_appeared and came.given_back == ()
    working = take(came.agent, "1001", NOW, "2026-11-23")
    away = presence(working, presence_of("away"))
    assert away.agent.tickets == ["1001"] and not away.capacity_appeared
    back = presence(away.agent, presence_of("online"))
    assert back.capacity_appeared
    more = presence(back.agent, presence_of("online", capacity=3))
    assert (
        more.capacity_appeared
        and not presence(more.agent, presence_of("online", capacity=3)).capacity_appeared
    )
    gone = presence(more.agent, presence_of("offline"))
    assert gone.given_back == ("1001",) and gone.agent.tickets == []


def test_taking_counts_today_and_a_new_day_starts_from_zero() -> None:
    agent = Agent(agent_id="a", status="online", capacity=5, day="2026-11-22", taken_today=49)
    taken = take(agent, "1001", NOW, "2026-11-23")
    assert (taken.taken_today, taken.day, taken.last_assigned_at) == (1, "2026-11-23", NOW)
    assert take(taken, "1002", NOW, "2026-11-23").taken_today == 2
    assert release(taken, "1001").tickets == []


def test_a_category_change_routes_nothing_and_a_merge_close_frees_the_slot() -> None:
    ticket = held()
    for event in (ev.category("1001", ["a", "b", "c"], NOW), ev.merged("1001", "1002", NOW)[0]):
        same = changed(ticket, event.data, NOW)
        assert (same.ticket, same.frees, same.route) == (ticket, None, False)
    closed = changed(ticket, ev.merged("1001", "1002", NOW)[1].data, NOW)
    assert (closed.ticket.status, closed.frees, closed.route) == ("done", "a", False)


@pytest.mark.parametrize(
    ("status", "assignee", "lets_go"),
    [
        ("assigned", "a", False),
        ("assigned", "b", True),
        ("waiting", None, False),  # an assignment in flight: her document was written first
        ("done", None, True),
    ],
)
def test_an_agent_lets_a_ticket_go_only_when_another_has_it_or_it_is_done(
    status, assignee, lets_go
) -> None:
    ticket = opened(opening(message("email", "m-1"))[0].data, None).ticket
    ticket = ticket.model_copy(update={"status": status, "assignee": assignee})
    assert gone_from(ticket, "a") is lets_go


def test_events_that_never_route_change_no_ticket_in_any_state() -> None:
    """What `routes` lets the router skip (no read, no write) changes no routed ticket,
    whatever its state: so a skipped event read again after later ones changes nothing."""
    sla = {"ticket_id": "1001", "policy": "p1", "metric": "first_response", "due_at": NOW}
    skipped = [
        ev.customer_wrote("1001", NOW).data,
        ev.replied("1001", NOW).data,
        ev.replied("1001", NOW, public=False).data,
        ev.status("1001", "open", "pending", NOW).data,
        ev.status("1001", "pending", "open", NOW).data,
        ev.category("1001", ["billing", "refund", "late"], NOW).data,
        *(e.data for e in ev.merged("1001", "1002", NOW)[:1]),
        ev.escalated("1001", 1, ["supervisor"], NOW).data,
        SlaWarning(**sla, remaining_s=60),
        SlaMet(**sla, met_at=NOW),
        SlaBreached(**sla, priority="P3", breached_at=NOW, agent_id="a"),
    ]
    waiting = opened(opening(message("email", "m-1"))[0].data, None).ticket
    done = changed(held(), ev.status("1001", "open", "solved", NOW).data, NOW).ticket
    for data in skipped:
        assert not routes(data), type(data).__name__
        for ticket in (waiting, held(), done):
            after = changed(ticket, data, NOW)
            assert (after.ticket, after.frees, after.route) == (ticket, None, False)
    solved = ev.status("1001", "open", "solved", NOW).data
    raised = SlaEscalated(**{**sla, "level": 1, "notify": [], "raise_tier": True, "at": NOW})
    assert all(routes(data) for data in (solved, raised, ev.reopened("1001", NOW).data))

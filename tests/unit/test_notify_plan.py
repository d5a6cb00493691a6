"""Who is told what (contract 4.1), pure: customer steps by channel and policy, the held
acknowledgement, staff mails per step, requests to a customer or a staff role, webhooks by
pattern, deterministic ids."""

from datetime import UTC, datetime, timedelta

import pytest

from kefu.services.notify.plan import Rules, TicketContext, plan
from kefu.shared.events.notify import NotifyRequested
from kefu.shared.events.ops import SurgeStarted
from kefu.shared.events.sla import SlaStarted, SlaTarget
from kefu.shared.events.survey import SurveyDetractor
from kefu.shared.events.ticket import Customer
from kefu.shared.policy import Notify, Sla
from tests import sla_events as ev

AT = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
SLA = Sla.model_validate(ev.ESCALATING)


def rules(**notify: object) -> Rules:
    staff = {"supervisor": ["lead@example.com"], "manager": ["head@example.com"]}
    return Rules(Notify.model_validate({"staff": staff, **notify}), SLA, "en")


def run(events: list, policy: Rules | None = None, context: TicketContext | None = None):
    notes, wake = [], []
    for event in events:
        result = plan(context, event, event.to_bytes().decode(), policy or rules())
        context = result.context
        notes += result.notifications
        wake += result.wake
    return context, notes, wake


def started(due: datetime):
    return ev.event(
        SlaStarted(
            ticket_id="t1", policy="p1", targets=[SlaTarget(metric="first_response", due_at=due)]
        ),
        AT,
    )


@pytest.mark.parametrize(
    ("channel", "via"),
    [
        ("email", "email"),
        ("webform", "email"),
        ("sms", "sms"),
        ("voice", "sms"),
        ("chat", None),
        ("social", None),
    ],
)
def test_the_acknowledgement_goes_by_the_ticket_channel(channel: str, via: str | None) -> None:
    _, notes, _ = run(
        [ev.opened("t1", AT, channel=channel, customer=Customer(address="x@example.com"))]
    )
    assert [n.channel for n in notes] == ([via] if via else [])


def test_the_acknowledgement_waits_for_the_due_time_and_is_woken() -> None:
    opened = ev.opened("t1", AT)
    context, [ack], _ = run([opened])
    assert ack.id == f"notify:{opened.id}:jane@example.com"
    assert ack.due_at == AT + timedelta(seconds=3) and context.ack == ack.id
    context, notes, wake = run([started(AT + timedelta(minutes=15))], context=context)
    assert (
        notes == []
        and wake == [ack.id]
        and context.first_response_due == AT + timedelta(minutes=15)
    )


def test_a_due_time_known_first_sends_at_once() -> None:
    _, [ack], wake = run([started(AT + timedelta(minutes=15)), ev.opened("t1", AT)])
    assert ack.due_at == AT and wake == []


def test_default_steps_and_optional_ones() -> None:
    events = [
        ev.opened("t1", AT),
        ev.assigned("t1", "alice", AT),
        ev.replied("t1", AT),
        ev.replied("t1", AT, public=False),
        ev.status("t1", "open", "pending", AT),
        ev.status("t1", "pending", "solved", AT),
        ev.status("t1", "solved", "closed", AT),
    ]
    _, notes, _ = run(events)
    assert [n.template for n in notes] == ["ticket_opened", "agent_reply", "ticket_solved"]
    every = rules(
        customer=["opened", "agent_reply", "solved", "assigned", "status_pending", "closed"]
    )
    _, notes, _ = run(events, every)
    assert [n.template for n in notes] == [
        "ticket_opened",
        "ticket_assigned",
        "agent_reply",
        "status_pending",
        "ticket_solved",
        "ticket_closed",
    ]


def test_an_assignment_read_before_the_ticket_is_told_once_it_opens() -> None:
    every = rules(customer=["opened", "assigned"])
    assigned = ev.assigned("t1", "alice", AT)
    _, notes, _ = run([assigned, ev.opened("t1", AT)], every)
    assert [(n.template, n.id) for n in notes][1] == (
        "ticket_assigned",
        f"notify:{assigned.id}:jane@example.com",
    )


def test_staff_mails_per_step_and_recipient() -> None:
    first = ev.escalated("t1", 1, ["supervisor"], AT)
    second = ev.escalated("t1", 2, ["manager", "ops@example.com", "agent-7"], AT)
    _, notes, _ = run([ev.opened("t1", AT), first, second])
    staff = [(n.template, n.to) for n in notes if n.audience == "staff"]
    assert staff == [
        ("sla_breached", "lead@example.com"),
        ("sla_escalated", "head@example.com"),
        ("sla_escalated", "ops@example.com"),
    ]


def test_a_surge_mails_the_supervisor() -> None:
    surge = ev.event(SurgeStarted(rate_per_min=30, baseline_per_min=5, factor=6, at=AT), AT)
    _, [note], _ = run([surge])
    assert (note.template, note.to, note.ticket_id) == ("surge", "lead@example.com", "surge")


def requested(to: str, channel: str = "email"):
    request = NotifyRequested(
        notification_id="survey:s1:detractor",
        ticket_id="t1",
        channel=channel,
        to=to,
        template="detractor",
        locale="zh-CN",
        params={"score": 1},
    )
    return ev.event(request, AT)


def test_a_request_to_a_role_mails_each_of_its_addresses_once() -> None:
    supervisors = {"supervisor": ["lead@example.com", "deputy@example.com", "lead@example.com"]}
    _, notes, _ = run(
        [ev.opened("t1", AT), requested("role:supervisor", "sms")], rules(staff=supervisors)
    )
    mails = [n for n in notes if n.template == "detractor"]
    assert [(n.id, n.to) for n in mails] == [
        ("survey:s1:detractor:lead@example.com", "lead@example.com"),
        ("survey:s1:detractor:deputy@example.com", "deputy@example.com"),
    ]
    assert {(n.audience, n.channel, n.locale, n.ticket_id) for n in mails} == {
        ("staff", "email", "zh-CN", "t1")
    }
    assert all(n.params == {"score": 1} for n in mails)


def test_a_request_to_an_unknown_role_yields_nothing() -> None:
    assert run([requested("role:auditor")])[1] == []


def test_a_request_to_an_address_goes_to_the_customer_as_asked() -> None:
    _, [note], _ = run([requested("+8613800138000", "sms")])
    assert (note.id, note.audience, note.channel, note.to) == (
        "survey:s1:detractor",
        "customer",
        "sms",
        "+8613800138000",
    )


def test_a_detractor_event_alone_mails_no_one() -> None:
    low = SurveyDetractor(
        survey_id="s1", ticket_id="t1", kind="csat", score=1, comment=None, agent_id=None, at=AT
    )
    assert run([ev.event(low, AT)])[1] == []


def test_webhooks_by_type_pattern_carry_the_event_as_read() -> None:
    hooks = [
        {
            "url": "https://hooks.example/a",
            "events": ["kefu.ticket.*"],
            "secret": "0123456789abcdef",
        }
    ]
    opened = ev.opened("t1", AT)
    _, notes, _ = run([opened, started(AT)], rules(webhooks=hooks))
    [hook] = [n for n in notes if n.channel == "webhook"]
    assert hook.body == opened.to_bytes().decode() and hook.params == {"event_id": opened.id}


def test_a_replay_plans_the_same_ids() -> None:
    events = [ev.opened("t1", AT), ev.replied("t1", AT)]
    assert [n.id for n in run(events)[1]] == [n.id for n in run(events)[1]]


def test_a_merge_close_mails_nobody_even_when_closed_is_a_customer_step() -> None:
    hooks = [{"url": "https://hooks.example/a", "events": ["kefu.ticket.*"], "secret": "0" * 16}]
    every = rules(customer=["opened", "solved", "closed"], webhooks=hooks)
    context, _, _ = run([ev.opened("t1", AT)], every)
    merge = [*ev.merged("t1", "t2", AT), ev.category("t1", ["a", "b", "c"], AT)]
    _, notes, _ = run(merge, every, context)
    assert [n.audience for n in notes] == ["webhook"] * 3  # the events still go to webhooks
    _, [closed, _], _ = run([ev.status("t1", "open", "closed", AT)], every, context)
    assert closed.template == "ticket_closed"  # an agent's close is told

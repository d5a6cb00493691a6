"""SLA targets from a ticket's history: warnings, breaches, met, cycles, pauses, policy
changes, escalation chains; every event id deterministic."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml

from kefu.services.sla.decision import Tick, deciding, matters
from kefu.services.sla.targets import Rules
from kefu.services.sla.ticket import SlaTicket, fold
from kefu.shared.events.routing import TicketQueued
from kefu.shared.events.ticket import NoteAdded
from kefu.shared.policy import Policy
from tests import sla_events as ev

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # Monday 10:00 in Shanghai
POLICY = """
sla:
  calendars:
    office: {timezone: Asia/Shanghai, hours: {mon-fri: "09:00-12:00,13:30-18:00"},
             holidays: ["2026-10-01"], workdays: ["2026-10-10"]}
  policies:
    - name: complaints
      when: {category: [complaint]}
      targets: {first_response: 5m}
    - name: urgent
      when: {priority: [P1]}
      targets: {first_response: 15m, next_reply: 30m, resolution: 4h}
      escalation:
        - {at: breach, notify: [supervisor]}
        - {at: breach+30m, notify: [manager], raise_tier: true}
    - name: office
      when: {priority: [P2, P3]}
      calendar: office
      targets: {first_response: 1h, next_reply: 2h, resolution: 8h}
      pause_on: [pending, on_hold]
"""


def minutes(m: float) -> datetime:
    return T0 + timedelta(minutes=m)


class Story:
    """A ticket's life, decided input after input; what was announced, in order."""

    def __init__(self, policy: str = POLICY) -> None:
        self.decide = deciding(Rules.of(Policy.model_validate(yaml.safe_load(policy)).sla))
        self.ticket: SlaTicket | None = None
        self.events: list[Any] = []

    def then(self, at: float, event: Any = None) -> list[Any]:
        """The input at minute `at` (a timer when None); the events it announced."""
        cause = event if event is not None else Tick("t1")
        self.ticket, events = self.decide(self.ticket, cause, minutes(at))
        self.events += events
        return events

    def ids(self) -> list[str]:
        return [event.id for event in self.events]

    def kinds(self, events: list[Any] | None = None) -> list[str]:
        return [
            e.type.removeprefix("kefu.sla.") for e in (self.events if events is None else events)
        ]


def z(m: float) -> str:
    return minutes(m).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def test_warning_breach_and_escalations_on_24x7() -> None:
    story = Story()
    started = story.then(0, ev.opened("t1", minutes(0), priority="P1"))
    assert [(t.metric, t.due_at) for t in started[0].data.targets] == [
        ("first_response", minutes(15)),
        ("resolution", minutes(240)),
    ]
    assert story.ticket.wake_at == minutes(12)  # warn_at 0.8 of 15 minutes
    assert story.kinds(story.then(12)) == ["warning"]
    assert story.events[-1].data.remaining_s == 180
    story.then(1, ev.assigned("t1", "alice", minutes(1)))
    assert story.kinds(story.then(15)) == ["breached", "escalated"]
    breach, first_step = story.events[-2:]
    assert breach.data.agent_id == "alice" and breach.data.priority == "P1"
    assert breach.id == f"sla:t1:first_response:{z(15)}"
    assert first_step.id == f"sla:t1:first_response:{z(15)}:escalated:1"
    assert first_step.data.notify == ["supervisor"] and not first_step.data.raise_tier
    assert story.ticket.wake_at == minutes(45)
    last_step = story.then(45)
    assert story.kinds(last_step) == ["escalated"] and last_step[0].data.raise_tier
    assert story.ticket.tier == 2
    assert story.then(46) == []  # nothing more: the chain has ended


def test_met_before_due_and_nothing_after() -> None:
    story = Story()
    story.then(0, ev.opened("t1", minutes(0), priority="P1"))
    met = story.then(10, ev.replied("t1", minutes(10)))
    assert story.kinds(met) == ["met"]
    assert met[0].data.due_at == minutes(15) and met[0].data.met_at == minutes(10)
    assert story.ticket.wake_at == minutes(192)  # the resolution warning: 0.8 × 4 h
    assert story.then(15) == []


def test_a_private_note_is_no_response() -> None:
    story = Story()
    story.then(0, ev.opened("t1", minutes(0), priority="P1"))
    assert story.then(5, ev.replied("t1", minutes(5), public=False)) == []
    assert story.kinds(story.then(15)) == ["breached", "escalated"]


def test_a_late_reply_read_late_is_a_breach_not_a_met() -> None:
    story = Story()
    story.then(0, ev.opened("t1", minutes(0), priority="P1"))
    events = story.then(30, ev.replied("t1", minutes(20)))  # the service was behind
    assert story.kinds(events) == ["breached", "escalated"]
    assert events[0].data.due_at == minutes(15)
    assert story.then(60) == []  # answered: no escalation after the reply


def test_next_reply_cycles() -> None:
    story = Story()
    story.then(0, ev.opened("t1", minutes(0), priority="P1"))
    story.then(5, ev.replied("t1", minutes(5)))
    assert story.then(6, ev.customer_wrote("t1", minutes(6)))[0].data.targets[0].due_at == minutes(
        36
    )
    assert story.then(7, ev.customer_wrote("t1", minutes(7))) == []  # the cycle already runs
    met = story.then(20, ev.replied("t1", minutes(20)))
    assert [(e.data.metric, e.data.due_at) for e in met] == [("next_reply", minutes(36))]
    story.then(40, ev.customer_wrote("t1", minutes(40)))
    assert story.kinds(story.then(70)) == ["breached", "escalated"]
    assert story.events[-2].id == f"sla:t1:next_reply:{z(70)}"
    assert story.ticket.targets["next_reply"].cycle == 2


def test_solving_disarms_and_meets_resolution_a_reopen_resumes_it() -> None:
    story = Story()
    story.then(0, ev.opened("t1", minutes(0), priority="P1"))
    solved = story.then(10, ev.status("t1", "new", "solved", minutes(10)))
    assert [(e.data.metric, e.type) for e in solved] == [("resolution", "kefu.sla.met")]
    assert story.ticket.wake_at is None  # first response disarmed with the rest
    assert story.then(15) == []
    resumed = story.then(70, ev.reopened("t1", minutes(70)))
    # 10 minutes of 4 hours used: due 3h50m after the reopen
    assert [(t.metric, t.due_at) for t in resumed[0].data.targets] == [("resolution", minutes(300))]
    again = story.then(80, ev.status("t1", "open", "solved", minutes(80)))
    assert [e.data.met_at for e in again] == [minutes(80)]
    assert len(set(story.ids())) == len(story.ids())


def test_pause_moves_the_due_time_by_the_paused_business_time() -> None:
    story = Story()
    story.then(0, ev.opened("t1", minutes(0), priority="P3"))  # Monday 10:00 Shanghai
    assert story.ticket.targets and story.events[0].data.targets[-1].due_at == minutes(
        8 * 60 + 90 + 15 * 60
    )
    story.then(60, ev.status("t1", "new", "pending", minutes(60)))  # 11:00, 1h used
    resumed = story.then(24 * 60, ev.status("t1", "pending", "open", minutes(24 * 60)))
    # Tuesday 10:00 with 7 hours left: 2h before lunch, 4.5h after, 0.5h on Wednesday
    resolution = next(t for t in resumed[0].data.targets if t.metric == "resolution")
    assert resolution.due_at == minutes(48 * 60 - 30)  # Wednesday 09:30 in Shanghai


def test_a_priority_change_while_paused_is_exact() -> None:
    story = Story()
    story.then(0, ev.opened("t1", minutes(0), priority="P3"))  # office: resolution 8h
    story.then(5, ev.replied("t1", minutes(5)))
    story.then(60, ev.status("t1", "open", "pending", minutes(60)))  # 1 business hour used
    assert story.then(120, ev.priority("t1", "P3", "P1", minutes(120))) == []  # still paused
    assert story.ticket.policy == "urgent"
    resumed = story.then(180, ev.status("t1", "pending", "open", minutes(180)))
    # urgent (24x7, 4h, pauses on pending only): 1h before the pause counts, 3h remain
    assert [(t.metric, t.due_at) for t in resumed[0].data.targets] == [("resolution", minutes(360))]


def test_a_category_policy_wins_first() -> None:
    story = Story()
    started = story.then(
        0, ev.opened("t1", minutes(0), category=["complaint", "billing", "refund"])
    )
    assert started[0].data.policy == "complaints"
    assert [(t.metric, t.due_at) for t in started[0].data.targets] == [
        ("first_response", minutes(5))
    ]


def test_a_category_change_chooses_the_policy_again() -> None:
    story = Story()
    story.then(0, ev.opened("t1", minutes(0), priority="P3"))  # office: first response 1h
    events = story.then(2, ev.category("t1", ["complaint", "billing", "refund"], minutes(2)))
    assert story.ticket.policy == "complaints"
    assert [(t.metric, t.due_at) for t in events[0].data.targets] == [
        ("first_response", minutes(5))
    ]
    later = story.then(6, ev.category("t1", ["billing", "payment", "refund"], minutes(6)))
    assert story.ticket.policy == "office" and story.kinds(later) == ["started"]


def test_closing_by_a_merge_meets_nothing() -> None:
    closed, merged = Story(), Story()
    for story in (closed, merged):
        story.then(0, ev.opened("t1", minutes(0), priority="P1"))
        story.then(5, ev.replied("t1", minutes(5)))
    assert closed.kinds(closed.then(30, ev.status("t1", "open", "closed", minutes(30)))) == ["met"]
    for event in ev.merged("t1", "t2", minutes(30)):
        assert merged.then(30, event) == []
    assert merged.ticket.merged_into == "t2" and merged.ticket.wake_at is None
    assert merged.then(24 * 60) == []  # nothing comes due any more


def test_a_priority_change_rearms_at_once_and_breaches_what_is_past() -> None:
    story = Story()
    story.then(0, ev.opened("t1", minutes(0), priority="P3"))
    events = story.then(20, ev.priority("t1", "P3", "P1", minutes(20)))
    assert story.kinds(events) == ["started", "breached", "escalated"]
    assert events[1].data.due_at == minutes(15) and events[1].data.policy == "urgent"


def test_a_replay_announces_the_same_ids() -> None:
    opened = ev.opened("t1", minutes(0), priority="P1")
    first, second = Story(), Story()
    for story in (first, second):
        story.then(0, opened)
        story.then(12)
        story.then(16)
    assert first.ids() == second.ids()
    assert first.ids()[1:] == [
        f"sla:t1:first_response:{z(15)}:warning",
        f"sla:t1:first_response:{z(15)}",
        f"sla:t1:first_response:{z(15)}:escalated:1",
    ]


def test_timers_fired_late_announce_once() -> None:
    story = Story()
    story.then(0, ev.opened("t1", minutes(0), priority="P1"))
    assert story.kinds(story.then(100)) == ["breached", "escalated", "escalated"]  # no warning
    assert story.then(100) == []


def test_routing_events_before_the_ticket_are_kept() -> None:
    story = Story()
    assert story.then(0, ev.assigned("t1", "bob", minutes(0))) == []
    story.then(0, ev.opened("t1", minutes(0), priority="P1"))
    assert story.then(15)[0].data.agent_id == "bob"


def test_no_policy_no_targets() -> None:
    vip_only = (
        "sla: {policies: [{name: vip, when: {customer_tier: [vip]}, "
        "targets: {first_response: 1m}}]}"
    )
    story = Story(vip_only)
    assert story.then(0, ev.opened("t1", minutes(0))) == []
    assert story.ticket.wake_at is None
    vip = Story(vip_only)
    assert vip.kinds(vip.then(0, ev.opened("t1", minutes(0), customer_tier="vip"))) == ["started"]


@pytest.mark.parametrize("warn_at", ["null", "0.5"])
def test_warn_at(warn_at: str) -> None:
    story = Story(
        f"sla: {{policies: [{{name: p, warn_at: {warn_at}, targets: {{first_response: 10m}}}}]}}"
    )
    story.then(0, ev.opened("t1", minutes(0)))
    assert story.ticket.wake_at == (minutes(10) if warn_at == "null" else minutes(5))


def test_a_target_in_working_days_is_due_at_the_same_hour_and_pauses_like_hours() -> None:
    """Contract 9: 复杂问题3个工作日内完成. Opened Monday 10:00 in Shanghai with `3wd`: due
    Thursday 10:00 (3 × 7.5 working hours); a pause of one working hour moves it an hour."""
    story = Story(POLICY.replace("resolution: 8h", "resolution: 3wd"))
    story.then(0, ev.opened("t1", minutes(0), priority="P3"))
    resolution = story.events[0].data.targets[-1]
    assert (resolution.metric, resolution.due_at) == ("resolution", minutes(3 * 24 * 60))
    story.then(60, ev.status("t1", "new", "pending", minutes(60)))  # 11:00
    resumed = story.then(120, ev.status("t1", "pending", "open", minutes(120)))  # 12:00 = 13:30
    moved = next(t for t in resumed[0].data.targets if t.metric == "resolution")
    assert moved.due_at == minutes(3 * 24 * 60 + 60)  # Thursday 11:00


def test_what_sla_skips_changes_no_ticket_in_any_state() -> None:
    """A queued ticket, a note, an internal reply: `matters` lets sla skip them (no write),
    and whatever the ticket's state, they fold into nothing."""
    at = minutes(1)
    queued = TicketQueued(ticket_id="t1", skills=[], tier=1, reason="no agent", at=at)
    note = NoteAdded(ticket_id="t1", agent_id="a1", command_id="c1", text="hm", at=at)
    skipped = [ev.event(queued, at), ev.event(note, at), ev.replied("t1", at, public=False)]
    story = Story()
    states = [None]
    life = [ev.opened("t1", minutes(0), priority="P1"), ev.assigned("t1", "a1", at)]
    life += [ev.replied("t1", at), ev.status("t1", "open", "solved", at)]
    for step, event in enumerate(life):
        story.then(step, event)
        states.append(story.ticket)
    for event in skipped:
        assert not matters(event), event.type
        assert all(fold(state, event) == state for state in states)
    assert matters(ev.replied("t1", at)) and matters(ev.assigned("t1", "a1", at))

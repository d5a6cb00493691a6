"""Surge detection and understaffing alerts, one minute at a time."""

from datetime import UTC, datetime, timedelta

import pytest

from kefu.services.analytics.ops import (
    StaffingState,
    SurgeState,
    in_staffed_hours,
    staffing_step,
    surge_step,
)
from kefu.shared.events.ops import Staffed, SurgeEnded, SurgeStarted, Understaffed
from kefu.shared.policy import Staffing, SurgeRule

RULE = SurgeRule(factor=3, min_per_min=5)
START = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # a Monday
PEAKS = {"mon-fri": "09:00-11:00,14:00-17:00"}
STAFFING = Staffing(min_online=2, hours=PEAKS)


def minute(n: int) -> datetime:
    return START + timedelta(minutes=n)


def run(counts, history=(), state=None):
    """Feeds one minute per count; the final state and every event, in order."""
    events = []
    for n, opened in enumerate(counts):
        state, emitted = surge_step(state, minute(n), opened, list(history), RULE)
        events += emitted
    return state, events


def kinds(events) -> list[tuple[str, datetime]]:
    return [(type(event).__name__, event.at) for event in events]


def test_a_spike_over_a_steady_baseline_starts_a_surge() -> None:
    state, events = run([10, 10, 10, 30])
    assert events == [SurgeStarted(rate_per_min=30, baseline_per_min=10.0, factor=3, at=minute(3))]
    assert state.active and state.started_at == minute(3) and state.ewma == 10.0


def test_just_under_the_threshold_starts_nothing() -> None:
    state, events = run([10, 10, 10, 29])
    assert events == [] and not state.active


def test_a_surge_that_stays_high_is_announced_once() -> None:
    state, events = run([10, 10, 40, 45, 50])
    assert kinds(events) == [("SurgeStarted", minute(2))] and state.active


def test_inflow_under_the_threshold_but_above_its_70_percent_keeps_the_surge() -> None:
    state, events = run([10, 40, 25, 25, 25, 25])
    assert kinds(events) == [("SurgeStarted", minute(1))]
    assert state.active and state.calm_minutes == 0


def test_three_calm_minutes_end_the_surge() -> None:
    state, events = run([10, 40, 20, 20, 20])
    assert kinds(events) == [("SurgeStarted", minute(1)), ("SurgeEnded", minute(4))]
    assert events[-1] == SurgeEnded(rate_per_min=20, baseline_per_min=10.0, factor=3, at=minute(4))
    assert state == SurgeState(ewma=10.0)


def test_two_calm_minutes_then_a_spike_do_not_end_it() -> None:
    state, events = run([10, 40, 20, 20, 40, 20, 20])
    assert kinds(events) == [("SurgeStarted", minute(1))]
    assert state.active and state.calm_minutes == 2


def test_the_floor_keeps_a_quiet_night_quiet() -> None:
    night = SurgeState(ewma=0.2)
    state, events = surge_step(night, minute(0), 2, [], RULE)
    assert events == [] and state.ewma == pytest.approx(0.56)
    _, events = surge_step(night, minute(0), 5, [], RULE)
    assert kinds(events) == [("SurgeStarted", minute(0))]


def test_a_surge_begun_at_the_floor_ends_below_70_percent_of_the_floor() -> None:
    state, events = run([6, 3, 3, 3], state=SurgeState(ewma=0.2))
    assert kinds(events) == [("SurgeStarted", minute(0)), ("SurgeEnded", minute(3))]
    assert not state.active


def test_the_same_minute_in_past_weeks_beats_the_running_average() -> None:
    busy = SurgeState(ewma=10.0)
    _, events = surge_step(busy, minute(0), 8, [2, 2, 1, 3], RULE)
    assert events == [SurgeStarted(rate_per_min=8, baseline_per_min=2.0, factor=3, at=minute(0))]
    quiet = SurgeState(ewma=2.0)
    assert surge_step(quiet, minute(0), 30, [20, 20], RULE)[1] == []


def test_a_surge_does_not_raise_its_own_baseline() -> None:
    state, _ = run([10, 40, 40, 40, 40])
    assert state.active and state.ewma == 10.0
    assert surge_step(state, minute(5), 30, [], RULE)[1] == []  # still measured against 10


def test_the_first_minute_seeds_the_average_and_starts_nothing() -> None:
    assert surge_step(None, minute(0), 100, [], RULE) == (SurgeState(ewma=100.0), [])


def test_the_baseline_is_reported_to_three_decimals() -> None:
    _, events = run([1, 2, 2, 2, 2, 6])  # average 1.2, 1.36, 1.488, 1.5904
    assert [event.baseline_per_min for event in events] == [1.59]


def at(hour: int, minute: int = 0, day: int = 2) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


def test_short_in_peak_hours_alerts_once_and_clears_when_staffed() -> None:
    state, events = staffing_step(None, at(10, 30), 1, STAFFING)
    assert events == [Understaffed(online=1, min_online=2, at=at(10, 30))] and state.short
    state, events = staffing_step(state, at(10, 31), 1, STAFFING)
    assert events == [] and state.short
    state, events = staffing_step(state, at(10, 32), 2, STAFFING)
    assert events == [Staffed(online=2, min_online=2, at=at(10, 32))] and not state.short


def test_nobody_online_outside_staffed_hours_is_no_alert() -> None:
    assert staffing_step(None, at(12), 0, STAFFING) == (StaffingState(), [])


def test_the_end_of_staffed_hours_clears_a_shortage() -> None:
    state, _ = staffing_step(None, at(10, 59), 1, STAFFING)
    state, events = staffing_step(state, at(11), 1, STAFFING)
    assert events == [Staffed(online=1, min_online=2, at=at(11))] and not state.short


@pytest.mark.parametrize(
    "staffing",
    [Staffing(min_online=0, hours=PEAKS), Staffing(min_online=2)],
    ids=["min_online 0", "no hours"],
)
def test_without_a_minimum_or_hours_nobody_is_short(staffing: Staffing) -> None:
    assert staffing_step(None, at(10, 30), 0, staffing) == (StaffingState(), [])


@pytest.mark.parametrize(
    ("instant", "staffed"),
    [
        (at(1), True),  # 09:00 in Shanghai
        (at(2, 30), True),  # 10:30
        (at(3), False),  # 11:00, the morning span is over
        (at(6), True),  # 14:00
        (at(10, 30), False),  # 18:30
        (at(23, 30, day=1), False),  # Monday 07:30
        (at(18, day=6), False),  # Saturday 02:00
    ],
)
def test_staffed_hours_are_in_their_own_time_zone(instant: datetime, staffed: bool) -> None:
    shanghai = Staffing(min_online=2, hours=PEAKS, timezone="Asia/Shanghai")
    assert in_staffed_hours(shanghai, instant) is staffed


def test_a_shortage_in_shanghai_is_seen_from_utc_instants() -> None:
    shanghai = Staffing(min_online=2, hours=PEAKS, timezone="Asia/Shanghai")
    assert kinds(staffing_step(None, at(2, 30), 1, shanghai)[1]) == [("Understaffed", at(2, 30))]
    assert staffing_step(None, at(10, 30), 1, shanghai)[1] == []

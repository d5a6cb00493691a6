"""Pure operations alerts, evaluated by the service once a minute: surges and understaffing.

Nothing here reads the clock or does I/O; every instant is passed in and the caller keeps the
returned state for the next minute. Events are returned as data; the service gives them ids.

Surge (policy `analytics.surge`): the usual inflow for a minute is the mean of the same minute
of the week in the previous weeks, when there is such history; otherwise an exponentially
weighted mean of past minutes (alpha 0.2, seeded by the first minute), which takes a minute's
count only while no surge is active, so a surge never raises its own baseline. The start
threshold is `max(min_per_min, factor × usual)`; a surge starts when a minute's inflow reaches
it (never before there is any baseline). It ends only after 3 consecutive calm minutes, inflow
below 0.7 × the start threshold, so it does not flap around the threshold.

Understaffing (policy `analytics.staffing`): inside the staffed hours, fewer than `min_online`
agents online is short. `Understaffed` is sent once when that begins, `Staffed` once when it
stops (enough agents again, or the staffed hours over). No hours, or `min_online` 0: never short.
"""

from datetime import datetime
from statistics import fmean

from pydantic import BaseModel, ConfigDict

from kefu.shared.clock import business_hours
from kefu.shared.events.ops import Staffed, SurgeEnded, SurgeStarted, Understaffed
from kefu.shared.policy import Staffing, SurgeRule

EWMA_ALPHA = 0.2
CALM_FRACTION = 0.7
CALM_MINUTES_TO_END = 3


class SurgeState(BaseModel):
    model_config = ConfigDict(frozen=True)

    active: bool = False
    ewma: float | None = None
    calm_minutes: int = 0
    started_at: datetime | None = None


class StaffingState(BaseModel):
    model_config = ConfigDict(frozen=True)

    short: bool = False


def surge_step(
    state: SurgeState | None,
    minute_end: datetime,
    opened: int,
    same_minute_before: list[int],
    rule: SurgeRule,
) -> tuple[SurgeState, list[SurgeStarted | SurgeEnded]]:
    """The surge state after the minute ending at `minute_end`, in which `opened` tickets were
    opened; `same_minute_before` is that minute of the week in previous weeks (may be empty)."""
    state = state or SurgeState()
    baseline = fmean(same_minute_before) if same_minute_before else state.ewma
    if state.active:
        return _surge_minute(state, minute_end, opened, baseline, rule)
    if baseline is not None and opened >= start_threshold(rule, baseline):
        started = SurgeStarted(**_surge_fields(minute_end, opened, baseline, rule))
        return state.model_copy(update={"active": True, "started_at": minute_end}), [started]
    return state.model_copy(update={"ewma": _weighted(state.ewma, opened)}), []


def start_threshold(rule: SurgeRule, baseline: float) -> float:
    """The inflow a minute that starts a surge reaches."""
    return max(rule.min_per_min, rule.factor * baseline)


def _surge_minute(
    state: SurgeState, minute_end: datetime, opened: int, baseline: float | None, rule: SurgeRule
) -> tuple[SurgeState, list[SurgeStarted | SurgeEnded]]:
    """One minute of an active surge: count the calm minutes, end after enough in a row.
    Without any baseline (a surge begun on history that is now missing) the floor alone counts."""
    usual = baseline if baseline is not None else 0.0
    calm = opened < CALM_FRACTION * start_threshold(rule, usual)
    calm_minutes = state.calm_minutes + 1 if calm else 0
    if calm_minutes < CALM_MINUTES_TO_END:
        return state.model_copy(update={"calm_minutes": calm_minutes}), []
    ended = SurgeEnded(**_surge_fields(minute_end, opened, usual, rule))
    return SurgeState(ewma=state.ewma), [ended]


def _surge_fields(
    minute_end: datetime, opened: int, baseline: float, rule: SurgeRule
) -> dict[str, float | datetime]:
    return {
        "rate_per_min": opened,
        "baseline_per_min": round(baseline, 3),
        "factor": rule.factor,
        "at": minute_end,
    }


def _weighted(ewma: float | None, opened: int) -> float:
    return float(opened) if ewma is None else EWMA_ALPHA * opened + (1 - EWMA_ALPHA) * ewma


def staffing_step(
    state: StaffingState | None, now: datetime, online: int, staffing: Staffing
) -> tuple[StaffingState, list[Understaffed | Staffed]]:
    """The staffing state at `now` with `online` agents online, and the alert it changed into."""
    was_short = state is not None and state.short
    short = online < staffing.min_online and in_staffed_hours(staffing, now)
    if short == was_short:
        return StaffingState(short=short), []
    event = Understaffed if short else Staffed
    return StaffingState(short=short), [
        event(online=online, min_online=staffing.min_online, at=now)
    ]


def in_staffed_hours(staffing: Staffing, now: datetime) -> bool:
    """Whether the aware instant `now` falls in the staffed hours (none set: never)."""
    calendar = staffing.calendar()
    if calendar is None:
        return False
    hours = business_hours(calendar)
    day = now.astimezone(hours.zone).date()
    return any(opens <= now < closes for opens, closes in hours.spans(day))

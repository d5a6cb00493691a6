"""Business time, pure: how much of an interval a calendar works, and when an amount of work
that starts at an instant is done.

`24x7` works every second. A named calendar (policy `sla.calendars`) works its weekly opening
spans (a lunch break is two spans) in its own time zone, not on holidays, and also on its
make-up working days (调休: a Saturday that is worked), with the hours of the first weekday
that has any. Spans are laid on each local day and turned into UTC instants through zoneinfo,
so a day on which the clocks change works the real time its spans last. Instants are UTC-aware;
amounts are timedeltas.

Working days (`3wd`, contract 9) count the calendar's days, not its hours: from a working
instant, N working days later at the same point of that day's hours (opened 10:00 with `1wd`:
due 10:00 the next working day). Work that starts outside the hours starts at the next
opening, and a start at a day's opening is due when the N-th day's hours end (after closing
on Friday with `1wd`: when Monday's hours end). A later day with shorter hours ends the target
at its close. On `24x7` a working day is a day. A target in working days becomes, for its
ticket, the working time it spans, so pauses and escalation offsets work as for hours.
"""

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Protocol
from zoneinfo import ZoneInfo

from kefu.shared.durations import WorkingDays
from kefu.shared.policy import Calendar, HolidayPreset, opening_span, public_holidays, weekday_range

ALWAYS = "24x7"
SEARCH_DAYS = 5 * 366  # a calendar that works nowhere in five years is a broken calendar
REMEMBERED = 1 << 14  # answers of each kind a calendar keeps
Span = tuple[datetime, datetime]
Run = tuple[datetime, datetime | None]  # a clock running from start to end (None: still)


class Clock(Protocol):
    def add(self, start: datetime, amount: timedelta) -> datetime: ...

    def worked(self, start: datetime, end: datetime) -> timedelta: ...

    def add_days(self, start: datetime, days: int) -> datetime: ...


class AlwaysOpen:
    def add(self, start: datetime, amount: timedelta) -> datetime:
        return start + max(amount, timedelta(0))

    def worked(self, start: datetime, end: datetime) -> timedelta:
        return max(end - start, timedelta(0))

    def add_days(self, start: datetime, days: int) -> datetime:
        return start + timedelta(days=days)


class BusinessHours:
    def __init__(
        self,
        zone: ZoneInfo,
        week: dict[int, list[tuple[time, time]]],
        holidays: frozenset[date] = frozenset(),
        workdays: frozenset[date] = frozenset(),
    ) -> None:
        self.zone = zone
        self.week = week
        self.holidays = holidays
        self.workdays = workdays
        self.workday_hours = next((week[day] for day in range(7) if week.get(day)), [])
        self._spans: dict[date, list[Span]] = {}
        # a ticket's targets are worked out again at each of its events, from the same instants
        self.add = lru_cache(REMEMBERED)(self._add)
        self.worked = lru_cache(REMEMBERED)(self._worked)
        self.add_days = lru_cache(REMEMBERED)(self._add_days)

    def spans(self, day: date) -> list[Span]:
        """The day's working spans as UTC instants."""
        if day not in self._spans:
            if day in self.workdays:
                local = self.workday_hours
            elif day in self.holidays:
                local = []
            else:
                local = self.week.get(day.weekday(), [])
            self._spans[day] = [
                (self._instant(day, opens), self._instant(day, closes)) for opens, closes in local
            ]
        return self._spans[day]

    def _instant(self, day: date, at: time) -> datetime:
        return datetime.combine(day, at, tzinfo=self.zone).astimezone(UTC)

    def _local_day(self, instant: datetime) -> date:
        return instant.astimezone(self.zone).date()

    def _add(self, start: datetime, amount: timedelta) -> datetime:
        """The instant at which `amount` of working time from `start` is done."""
        if amount <= timedelta(0):
            return start
        day = self._local_day(start)
        for _ in range(SEARCH_DAYS):
            for opens, closes in self.spans(day):
                begin = max(opens, start)
                if begin >= closes:
                    continue
                if amount <= closes - begin:
                    return begin + amount
                amount -= closes - begin
            day += timedelta(days=1)
        raise ValueError(f"the calendar has no working time in {SEARCH_DAYS} days from {start}")

    def _add_days(self, start: datetime, days: int) -> datetime:
        """The instant `days` working days after `start` (the module's rule)."""
        day, begun = self._next_working(start)
        done = self.worked(self.spans(day)[0][0], begun)
        for _ in range(days - 1 if done == timedelta(0) else days):
            day = self._next_working(self._instant(day + timedelta(days=1), time(0)))[0]
        last_close = self.spans(day)[-1][1]
        if done == timedelta(0):
            return last_close
        return min(self.add(self.spans(day)[0][0], done), last_close)

    def _next_working(self, start: datetime) -> tuple[date, datetime]:
        """The working day of the first working instant at or after `start`, and that instant."""
        day = self._local_day(start)
        for _ in range(SEARCH_DAYS):
            for opens, closes in self.spans(day):
                if closes > start:
                    return day, max(opens, start)
            day += timedelta(days=1)
        raise ValueError(f"the calendar has no working time in {SEARCH_DAYS} days from {start}")

    def _worked(self, start: datetime, end: datetime) -> timedelta:
        """The working time between two instants."""
        total, day, last = timedelta(0), self._local_day(start), self._local_day(end)
        while day <= last:
            for opens, closes in self.spans(day):
                total += max(min(closes, end) - max(opens, start), timedelta(0))
            day += timedelta(days=1)
        return total


def business_hours(calendar: Calendar) -> BusinessHours:
    """A policy calendar as a clock; explicit holidays and workdays win over a preset's."""
    week: dict[int, list[tuple[time, time]]] = {}
    for days, spans in calendar.hours.items():
        for weekday in weekday_range(days):
            week[weekday] = sorted(opening_span(span) for span in spans.split(","))
    holidays, workdays = set(), set()
    for entry in calendar.holidays:
        if isinstance(entry, HolidayPreset):
            preset_holidays, preset_workdays = public_holidays(entry)
            holidays |= preset_holidays
            workdays |= preset_workdays
    explicit = {entry for entry in calendar.holidays if isinstance(entry, date)}
    holidays = (holidays - set(calendar.workdays)) | explicit
    workdays = (workdays - explicit) | set(calendar.workdays)
    return BusinessHours(
        ZoneInfo(calendar.timezone), week, frozenset(holidays), frozenset(workdays)
    )


def clocks(calendars: dict[str, Calendar]) -> dict[str, Clock]:
    """Every calendar of the policy by name, and `24x7`."""
    named: dict[str, Clock] = {name: business_hours(c) for name, c in calendars.items()}
    return {ALWAYS: AlwaysOpen(), **named}


def reach(clock: Clock, runs: Sequence[Run], amounts: Sequence[timedelta]) -> list[datetime | None]:
    """When the working time inside `runs` (in order; only the last may be open) reaches each
    amount; None for an amount the runs do not reach (the clock stopped before it)."""
    reached = []
    for amount in amounts:
        done, instant = timedelta(0), None
        for start, end in runs:
            worked = clock.worked(start, end) if end is not None else None
            if worked is None or done + worked >= amount:
                instant = clock.add(start, amount - done)
                break
            done += worked
        reached.append(instant)
    return reached


def working_time(clock: Clock, limit: timedelta | WorkingDays, start: datetime) -> timedelta:
    """A target as working time of `clock` for work that starts at `start`."""
    if isinstance(limit, timedelta):
        return limit
    return clock.worked(start, clock.add_days(start, limit.days))

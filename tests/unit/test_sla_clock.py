"""Business time: split hours, nights, weekends, holidays, make-up workdays, year ends, DST."""

import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from kefu.shared.clock import AlwaysOpen, BusinessHours, business_hours, reach, working_time
from kefu.shared.durations import WorkingDays
from kefu.shared.policy import Calendar, Routing, Sla

SHANGHAI = Calendar.model_validate(
    {
        "timezone": "Asia/Shanghai",
        "hours": {"mon-fri": "09:00-12:00,13:30-18:00"},
        "holidays": ["2026-10-01", "2026-12-31"],
        "workdays": ["2026-10-10"],
    }
)
BERLIN = Calendar.model_validate({"timezone": "Europe/Berlin", "hours": {"mon-sun": "00:00-23:59"}})
NIGHT_SHIFT = Calendar.model_validate(
    {"timezone": "Europe/Berlin", "hours": {"sun": "01:00-04:00"}}
)


def sh(day: str, at: str) -> datetime:
    """A Shanghai wall-clock time as a UTC instant (UTC+8, no DST)."""
    local = datetime.fromisoformat(f"{day}T{at}")
    return (local - timedelta(hours=8)).replace(tzinfo=UTC)


def h(hours: float) -> timedelta:
    return timedelta(hours=hours)


@pytest.mark.parametrize(
    ("start", "amount", "done"),
    [
        (sh("2026-11-23", "10:00"), h(1), sh("2026-11-23", "11:00")),  # Monday morning
        (sh("2026-11-23", "11:30"), h(1), sh("2026-11-23", "14:00")),  # across lunch
        (sh("2026-11-23", "12:15"), h(1), sh("2026-11-23", "14:30")),  # starts in lunch
        (sh("2026-11-23", "17:30"), h(1), sh("2026-11-24", "09:30")),  # across the night
        (sh("2026-11-23", "07:00"), h(1), sh("2026-11-23", "10:00")),  # before opening
        (sh("2026-11-27", "17:00"), h(2), sh("2026-11-30", "10:00")),  # Friday → Monday
        (sh("2026-11-28", "10:00"), h(1), sh("2026-11-30", "10:00")),  # from a Saturday
        (sh("2026-09-30", "17:00"), h(2), sh("2026-10-02", "10:00")),  # over a holiday
        (sh("2026-10-09", "17:00"), h(2), sh("2026-10-10", "10:00")),  # make-up Saturday
        (sh("2026-12-30", "17:00"), h(2), sh("2027-01-01", "10:00")),  # year end, 31st off
        (sh("2026-11-23", "12:00"), h(0), sh("2026-11-23", "12:00")),  # nothing to do
        (sh("2026-11-23", "09:00"), h(7.5), sh("2026-11-23", "18:00")),  # a whole day
        (sh("2026-11-23", "09:00"), h(7.5 * 5), sh("2026-11-27", "18:00")),  # a week
    ],
)
def test_office_hours_add(start: datetime, amount: timedelta, done: datetime) -> None:
    assert business_hours(SHANGHAI).add(start, amount) == done


@pytest.mark.parametrize(
    ("start", "end", "worked"),
    [
        (sh("2026-11-23", "10:00"), sh("2026-11-23", "11:00"), h(1)),
        (sh("2026-11-23", "11:00"), sh("2026-11-23", "14:30"), h(2)),  # lunch not counted
        (sh("2026-11-23", "17:00"), sh("2026-11-24", "10:00"), h(2)),  # night not counted
        (sh("2026-11-27", "17:00"), sh("2026-11-30", "10:00"), h(2)),  # weekend
        (sh("2026-09-30", "09:00"), sh("2026-10-02", "09:00"), h(7.5)),  # Oct 1 off
        (sh("2026-10-10", "00:00"), sh("2026-10-11", "00:00"), h(7.5)),  # Saturday worked
        (sh("2026-10-17", "00:00"), sh("2026-10-18", "00:00"), h(0)),  # Saturday not
        (sh("2026-11-23", "11:00"), sh("2026-11-23", "10:00"), h(0)),  # backwards: none
    ],
)
def test_office_hours_worked(start: datetime, end: datetime, worked: timedelta) -> None:
    assert business_hours(SHANGHAI).worked(start, end) == worked


def test_add_and_worked_agree() -> None:
    clock = business_hours(SHANGHAI)
    start = sh("2026-09-28", "11:47")
    for minutes in range(0, 60 * 40, 37):
        done = clock.add(start, timedelta(minutes=minutes))
        assert clock.worked(start, done) == timedelta(minutes=minutes)


def test_dst_days_count_the_real_time() -> None:
    clock = business_hours(BERLIN)
    spring = datetime(2026, 3, 28, 23, 0, tzinfo=UTC)  # 00:00 CET on the 29th
    fall = datetime(2026, 10, 24, 22, 0, tzinfo=UTC)  # 00:00 CEST on the 25th
    # the local day, midnight to midnight, lasts 23 hours in spring and 25 in autumn
    assert clock.worked(spring, spring + h(23)) == h(23) - timedelta(minutes=1)
    assert clock.worked(fall, fall + h(25)) == h(25) - timedelta(minutes=1)
    # 22 real hours from midnight: 23:00 CEST when an hour was skipped, 21:00 CET when
    # one was repeated
    assert clock.add(spring, h(22)) == datetime(2026, 3, 29, 21, 0, tzinfo=UTC)
    assert clock.add(fall, h(22)) == datetime(2026, 10, 25, 20, 0, tzinfo=UTC)


def test_a_span_inside_the_dst_gap_lasts_what_the_clock_shows() -> None:
    clock = business_hours(NIGHT_SHIFT)  # Sundays 01:00-04:00 local
    spring_sunday = datetime(2026, 3, 29, 0, 0, tzinfo=UTC)
    fall_sunday = datetime(2026, 10, 24, 23, 0, tzinfo=UTC)
    assert clock.worked(spring_sunday - h(1), spring_sunday + h(6)) == h(2)  # 02-03 is skipped
    assert clock.worked(fall_sunday - h(1), fall_sunday + h(6)) == h(4)  # 02-03 twice


def test_always_open() -> None:
    start = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)
    assert AlwaysOpen().add(start, h(1)) == datetime(2027, 1, 1, 0, 30, tzinfo=UTC)
    assert AlwaysOpen().worked(start, start + h(3)) == h(3)


def test_china_preset_brings_holidays_and_make_up_days() -> None:
    calendar = Calendar.model_validate(
        {
            "timezone": "Asia/Shanghai",
            "hours": {"mon-fri": "09:00-18:00"},
            "holidays": [{"country": "CN", "years": 2026}],
        }
    )
    clock = business_hours(calendar)
    assert date(2026, 10, 1) in clock.holidays and date(2026, 10, 7) in clock.holidays
    assert date(2026, 10, 10) in clock.workdays  # a Saturday worked for the Golden Week
    # Golden Week (Oct 1-7) is skipped; the Saturday after it is worked
    assert clock.add(sh("2026-09-30", "09:00"), h(10)) == sh("2026-10-08", "10:00")
    assert clock.add(sh("2026-10-09", "17:00"), h(2)) == sh("2026-10-10", "10:00")


def test_explicit_days_win_over_the_preset() -> None:
    calendar = Calendar.model_validate(
        {
            "timezone": "Asia/Shanghai",
            "hours": {"mon-fri": "09:00-18:00"},
            "holidays": [{"country": "CN", "years": [2026]}, "2026-10-10"],
            "workdays": ["2026-10-08"],
        }
    )
    clock = business_hours(calendar)
    assert date(2026, 10, 10) not in clock.workdays
    assert date(2026, 10, 8) in clock.workdays


def test_reach_skips_the_time_the_clock_stood_still() -> None:
    start = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    runs = [(start, start + h(1)), (start + h(3), None)]  # stopped for two hours
    assert reach(AlwaysOpen(), runs, [h(0.5), h(1), h(2)]) == [
        start + h(0.5),
        start + h(1),
        start + h(4),
    ]
    stopped = [(start, start + h(1))]
    assert reach(AlwaysOpen(), stopped, [h(0.5), h(2)]) == [start + h(0.5), None]


def docs_office() -> BusinessHours:
    page = (Path(__file__).parents[2] / "docs" / "sla.md").read_text(encoding="utf-8")
    section = page[page.index("## Calendars") :]
    block = section[
        section.index("```yaml") + len("```yaml") : section.index(
            "```\n", section.index("```yaml") + 7
        )
    ]
    return business_hours(Sla.model_validate(yaml.safe_load(block)["sla"]).calendars["office"])


def test_the_docs_example() -> None:
    office = docs_office()
    assert office.add(sh("2026-09-30", "17:00"), h(4)) == sh("2026-10-08", "12:00")
    assert office.add(sh("2026-10-09", "17:00"), h(4)) == sh("2026-10-10", "12:00")
    assert date(2027, 2, 8) in office.holidays  # the Spring Festival of the 2027 preset


BERLIN_OFFICE = Calendar.model_validate(
    {"timezone": "Europe/Berlin", "hours": {"mon-fri": "09:00-17:00"}}
)
NEW_YORK_OFFICE = Calendar.model_validate(
    {"timezone": "America/New_York", "hours": {"mon-fri": "09:00-17:00"}}
)
SHORT_FRIDAY = Calendar.model_validate(
    {"timezone": "UTC", "hours": {"mon-thu": "09:00-18:00", "fri": "09:00-12:00"}}
)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("calendar", "start", "days", "due"),
    [
        (SHANGHAI, sh("2026-11-23", "10:00"), 1, sh("2026-11-24", "10:00")),  # during hours
        (SHANGHAI, sh("2026-11-23", "10:00"), 3, sh("2026-11-26", "10:00")),  # 复杂问题3个工作日
        (SHANGHAI, sh("2026-11-23", "07:00"), 1, sh("2026-11-23", "18:00")),  # before opening
        (SHANGHAI, sh("2026-11-23", "09:00"), 2, sh("2026-11-24", "18:00")),  # at opening
        (SHANGHAI, sh("2026-11-23", "12:30"), 1, sh("2026-11-24", "12:00")),  # in the lunch break
        (SHANGHAI, sh("2026-11-23", "19:00"), 1, sh("2026-11-24", "18:00")),  # after closing
        (SHANGHAI, sh("2026-11-27", "10:00"), 1, sh("2026-11-30", "10:00")),  # on a Friday
        (SHANGHAI, sh("2026-11-27", "18:30"), 1, sh("2026-11-30", "18:00")),  # Friday evening
        (SHANGHAI, sh("2026-11-28", "10:00"), 1, sh("2026-11-30", "18:00")),  # on a Saturday
        (SHANGHAI, sh("2026-09-30", "10:00"), 1, sh("2026-10-02", "10:00")),  # before a holiday
        (SHANGHAI, sh("2026-10-09", "10:00"), 1, sh("2026-10-10", "10:00")),  # make-up Saturday
        (SHANGHAI, sh("2026-12-30", "10:00"), 1, sh("2027-01-01", "10:00")),  # 31st off
        (BERLIN_OFFICE, utc("2026-03-27T09:00"), 1, utc("2026-03-30T08:00")),  # CET → CEST
        (BERLIN_OFFICE, utc("2026-10-23T14:00"), 1, utc("2026-10-26T15:00")),  # CEST → CET
        (NEW_YORK_OFFICE, utc("2026-03-06T15:00"), 1, utc("2026-03-09T14:00")),  # EST → EDT
        (SHORT_FRIDAY, utc("2026-11-26T16:00"), 1, utc("2026-11-27T12:00")),  # a short day ends it
    ],
)
def test_working_days(calendar: Calendar, start: datetime, days: int, due: datetime) -> None:
    """Contract 9: `Nwd` is N working days of the calendar, at the same point of the day."""
    assert business_hours(calendar).add_days(start, days) == due


def test_the_docs_table_of_working_days() -> None:
    page = (Path(__file__).parents[2] / "docs" / "sla.md").read_text(encoding="utf-8")
    table = page[page.index("| opened (Shanghai, 2026) |") :].split("\n\n")[0].splitlines()[2:]
    office = docs_office()

    def when(cell: str) -> datetime:
        day, at = re.search(r"(\d\d-\d\d) (\d\d:\d\d)", cell).groups()
        return sh(f"2026-{day}", at)

    assert len(table) == 6
    for row in table:
        opened, one, three, hours = (cell.strip() for cell in row.strip("|").split("|"))
        start = when(opened)
        assert office.add_days(start, 1) == when(one), row
        assert office.add_days(start, 3) == when(three), row
        assert office.add(start, h(72)) == when(hours), row


def test_working_days_on_24x7_are_days_and_become_working_time_per_ticket() -> None:
    assert AlwaysOpen().add_days(utc("2026-11-27T18:30"), 1) == utc("2026-11-28T18:30")
    clock = business_hours(SHANGHAI)
    assert working_time(clock, WorkingDays(1), sh("2026-11-23", "10:00")) == h(7.5)
    assert working_time(clock, WorkingDays(3), sh("2026-11-27", "18:30")) == h(7.5 * 3)
    assert working_time(AlwaysOpen(), WorkingDays(3), sh("2026-11-27", "18:30")) == h(72)
    assert working_time(clock, h(4), sh("2026-11-27", "18:30")) == h(4)


def test_a_target_in_working_days_is_written_wd_and_only_targets_take_it() -> None:
    sla = Sla.model_validate(
        {
            "policies": [
                {"name": "complex", "targets": {"resolution": "3wd", "first_response": "2h"}}
            ]
        }
    )
    assert sla.policies[0].targets.resolution == WorkingDays(3)
    with pytest.raises(ValueError, match="at least 1wd"):
        Sla.model_validate({"policies": [{"name": "x", "targets": {"resolution": "0wd"}}]})
    with pytest.raises(ValueError, match="SLA targets only"):
        Routing.model_validate({"relax_after": "1wd"})


def test_a_calendar_answers_a_question_asked_again_from_memory() -> None:
    """A ticket's targets are worked out again at each of its events, from the same instants:
    the calendar keeps its answers, and they are the ones it worked out."""
    clock = business_hours(SHANGHAI)
    start = sh("2026-11-27", "17:00")
    asked = clock.add(start, h(2)), clock.worked(start, sh("2026-11-30", "10:00"))
    again = clock.add(start, h(2)), clock.worked(start, sh("2026-11-30", "10:00"))
    assert asked == again == (sh("2026-11-30", "10:00"), h(2))
    assert clock.add.cache_info().hits == 1 and clock.worked.cache_info().hits == 1
    assert clock.add_days(start, 1) == clock.add_days(start, 1) == sh("2026-11-30", "17:00")
    assert clock.add_days.cache_info().hits == 1

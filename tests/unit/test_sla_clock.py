"""Business time: split hours, nights, weekends, holidays, make-up workdays, year ends, DST."""

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from kefu.shared.clock import AlwaysOpen, business_hours, reach
from kefu.shared.policy import Calendar, Sla

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


def test_the_docs_example() -> None:
    page = (Path(__file__).parents[2] / "docs" / "sla.md").read_text(encoding="utf-8")
    section = page[page.index("## Calendars") :]
    block = section[
        section.index("```yaml") + len("```yaml") : section.index(
            "```\n", section.index("```yaml") + 7
        )
    ]
    sla = Sla.model_validate(yaml.safe_load(block)["sla"])
    office = business_hours(sla.calendars["office"])
    assert office.add(sh("2026-09-30", "17:00"), h(4)) == sh("2026-10-08", "12:00")
    assert office.add(sh("2026-10-09", "17:00"), h(4)) == sh("2026-10-10", "12:00")
    assert date(2027, 2, 8) in office.holidays  # the Spring Festival of the 2027 preset

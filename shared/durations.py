"""Durations as the policy file writes them: 500ms, 30s, 15m, 4h, 2d; and SLA targets, which
may also be working days of their calendar: 3wd (contract 9)."""

import re
from dataclasses import dataclass
from datetime import timedelta

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")
_WORKING_DAYS = re.compile(r"^\s*(\d+)\s*wd\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class WorkingDays:
    """N working days of a calendar: from a working instant to the same point of the N-th
    working day after (shared/clock.py)."""

    days: int

    def __str__(self) -> str:
        return f"{self.days}wd"


def parse_duration(text: str) -> timedelta:
    match = _DURATION.match(text)
    if not match:
        if _WORKING_DAYS.match(text):
            raise ValueError(f"{text!r}: working days (wd) are for SLA targets only")
        raise ValueError(f"{text!r} is not a duration like 500ms, 30s, 15m, 4h or 2d")
    amount, unit = match.groups()
    return timedelta(seconds=float(amount) * _UNIT_SECONDS[unit])


def parse_target(text: str) -> timedelta | WorkingDays:
    """An SLA target: a duration of the calendar's working time, or whole working days."""
    match = _WORKING_DAYS.match(text)
    if match:
        days = int(match.group(1))
        if days < 1:
            raise ValueError(f"{text!r}: at least 1wd")
        return WorkingDays(days)
    return parse_duration(text)


def format_duration(duration: timedelta) -> str:
    """The inverse of parse_duration, in the largest unit that is exact: 300 s → "5m"."""
    ms = round(duration.total_seconds() * 1000)
    for unit in ("d", "h", "m", "s"):
        size = round(_UNIT_SECONDS[unit] * 1000)
        if ms and ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"

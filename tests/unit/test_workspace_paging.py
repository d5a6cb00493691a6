"""Page cursors (services/workspace/paging.py) and audit line ids (audit.py)."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from kefu.services.workspace.audit import audit_id, time_key
from kefu.services.workspace.paging import LONGEST, BadCursor, cursor_of, position_of


def test_a_cursor_gives_back_its_position() -> None:
    cursor = cursor_of("退款", 1764000000000, "T-1")
    assert position_of(cursor, str, int, str) == ("退款", 1764000000000, "T-1")
    assert cursor.isascii() and "=" not in cursor and "/" not in cursor


@pytest.mark.parametrize(
    "cursor",
    ["", "x", "!!!", "eyJ9", "bnVsbA", cursor_of("a"), cursor_of(1, 2, "x"), "A" * (LONGEST + 1)],
)
def test_anything_else_is_a_bad_cursor(cursor: str) -> None:
    with pytest.raises(BadCursor):
        position_of(cursor, str, int, str)


def test_a_cursor_of_the_wrong_types_is_bad() -> None:
    with pytest.raises(BadCursor):
        position_of(cursor_of("a", "1", "b"), str, int, str)
    with pytest.raises(BadCursor):
        position_of(cursor_of(True), int)  # a bool is not a number here
    with pytest.raises(BadCursor):
        position_of(cursor_of("a", 2**63, "b"), str, int, str)  # more than the store takes


def test_audit_ids_sort_as_their_times_and_never_collide() -> None:
    at = datetime(2026, 12, 2, 9, 59, 59, 999999, tzinfo=UTC)
    later = at + timedelta(microseconds=1)
    assert audit_id(at) < audit_id(later)
    assert len({audit_id(at) for _ in range(1000)}) == 1000
    assert audit_id(at).startswith("20261202T095959999999-")


def test_a_time_key_is_utc_for_any_zone_and_year() -> None:
    at = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
    assert time_key(at) == time_key(at.replace(tzinfo=None)) == "20261202T090000000000"
    assert time_key(at.astimezone(timezone(timedelta(hours=8)))) == time_key(at)
    assert time_key(datetime(1, 1, 1)) == "00010101T000000000000" < time_key(at)
    with pytest.raises(OverflowError):
        time_key(datetime(9999, 12, 31, 23, 0, tzinfo=timezone(timedelta(hours=-5))))

"""Quiet hours, pure: whether a customer message may go now, and if not, until when it waits."""

from datetime import datetime, timedelta

from kefu.shared.policy import QuietHours


def quiet_until(window: QuietHours | None, priority: str, now: datetime) -> datetime | None:
    """The end of the quiet window `now` falls in (None: send now). A window may cross
    midnight (22:00-08:00); priorities in `except_priority` are never held."""
    if window is None or priority in window.except_priority or window.start == window.end:
        return None
    local = now.astimezone(window.zone())
    today = local.date()
    for day in (today - timedelta(days=1), today):
        start = datetime.combine(day, window.start, tzinfo=window.zone())
        end_day = day if window.start < window.end else day + timedelta(days=1)
        end = datetime.combine(end_day, window.end, tzinfo=window.zone())
        if start <= local < end:
            return end.astimezone(now.tzinfo)
    return None

"""Sign-in rules (contract 8): after 5 failures for one login within 15 minutes, that login
is locked until the oldest of those 5 leaves the window, whatever password is given. Pure."""

import math
from collections.abc import Iterable
from datetime import datetime, timedelta

FAILURES_ALLOWED = 5
WINDOW = timedelta(minutes=15)


def login_key(login: str) -> str:
    """Failures are counted per lower-cased login, person or not."""
    return login.strip().lower()


def locked_for(failures: Iterable[datetime], now: datetime) -> int | None:
    """Seconds until the login may be tried again (a `Retry-After`), or None when it may
    be tried now."""
    recent = sorted(at for at in failures if now - WINDOW < at <= now)
    if len(recent) < FAILURES_ALLOWED:
        return None
    free_at = recent[-FAILURES_ALLOWED] + WINDOW
    return max(1, math.ceil((free_at - now).total_seconds()))

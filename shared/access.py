"""One log line per HTTP request (contract 11): who (the person's id or the static token's
name, never the token), method, route, status and duration.

The route is the template a request matched (`/s/{token}`), never the path: a survey's or a
customer's link carries its secret in the path. Probes and scrapes (/healthz, /readyz,
/metrics) log at DEBUG, so a kubelet's probes do not drown the requests."""

import time
from collections.abc import Awaitable, Callable
from typing import Any

from kefu.shared.auth import remembered
from kefu.shared.logs import get_logger

log = get_logger("kefu.access")
QUIET = frozenset({"/healthz", "/readyz", "/metrics"})
MAX_PATH_LOGGED = 120
Asgi = Callable[[Any, Any, Any], Awaitable[None]]


async def access_logged(app: Asgi, scope: Any, receive: Any, send: Any) -> None:
    """`app` answering an HTTP request, then the request's line."""
    scope.setdefault("state", {})  # where the auth dependency leaves the caller
    started, status = time.perf_counter(), 500

    async def sending(message: Any) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        await send(message)

    try:
        await app(scope, receive, sending)
    finally:
        caller = remembered(scope)
        line = log.debug if scope["path"] in QUIET else log.info
        line(
            "http request",
            who=caller.id if caller else "-",
            via=("person" if caller.person else "token") if caller else "none",
            method=scope["method"],
            route=route_of(scope),
            status=status,
            duration_ms=round((time.perf_counter() - started) * 1000, 1),
        )


def route_of(scope: Any) -> str:
    """The matched route's template; an unmatched path, cut short (it is outside text)."""
    route = getattr(scope.get("route"), "path", None)
    return route if isinstance(route, str) else scope["path"][:MAX_PATH_LOGGED]

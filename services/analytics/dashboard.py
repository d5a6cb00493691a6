"""The analytics dashboard: one static page, `dashboard/index.html`, with its CSS and script
inline. It reads `v1/kpis`, `v1/agents`, `v1/queue` and `v1/charts/hourly.svg`, relative to
the page, every 5 seconds, as the person signed in at the desk (the session cookie, on the same
host) or with an API token the user types (kept in the tab's sessionStorage).

Served at `GET /` and `GET /dashboard/` (the public host's path for it, where those calls land
on `/dashboard/v1/…`) with CONTENT_SECURITY_POLICY: everything from the service itself, inline
script and style for the page's own, nothing framed, no form posted anywhere else."""

import html
from functools import cache
from pathlib import Path

PAGE = Path(__file__).parent / "dashboard" / "index.html"
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)


def dashboard_html(desk_url: str) -> str:
    return _page().replace("__DESK_URL__", html.escape(f"{desk_url}/"))


@cache
def _page() -> str:
    return PAGE.read_text(encoding="utf-8")

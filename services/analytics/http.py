"""Analytics' HTTP API (FastAPI, mounted in the service's app; OpenAPI at /openapi.json) and
the dashboard page at `/` and `/dashboard/`. Roles (contract 5.1): a ticket's projection for
agents and above, KPIs, agents, exports, charts and reports for supervisors and above."""

import base64
import binascii
import math
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query
from fastapi.exceptions import RequestValidationError
from fastapi.responses import (
    HTMLResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from pydantic import BaseModel

from kefu.services.analytics.chart import hourly_bars_svg
from kefu.services.analytics.dashboard import CONTENT_SECURITY_POLICY, dashboard_html
from kefu.services.analytics.export import csv_rows
from kefu.services.analytics.kpis import Dimension, Measure
from kefu.services.analytics.kpis import Period as Span
from kefu.services.analytics.projection import TicketProjection
from kefu.services.analytics.reporting import period_report
from kefu.services.analytics.reports import Period, month, week
from kefu.services.analytics.store import PAGE_MAX, AnalyticsStore
from kefu.shared.auth import role_at_least
from kefu.shared.events.base import utc_now
from kefu.shared.http_errors import invalid_request, problem
from kefu.shared.settings import Settings

DASHBOARD = "/dashboard"  # the dashboard's own path beside `/`, and its API's there
DEFAULT_RANGE = timedelta(hours=24)
LONGEST_CHART = timedelta(days=31)
HOUR = timedelta(hours=1)
# Query times outside these years are refused: nothing is kept there, and arithmetic near
# year 1 or 9999 overflows.
EARLIEST, LATEST = datetime(1970, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC)


def content(description: str, *media_types: str) -> dict[int | str, dict[str, Any]]:
    """A 200 that is not JSON, documented with its media types."""
    return {200: {"description": description, "content": {m: {} for m in media_types}}}


REPORT = content("the report", "text/markdown", "text/csv")
PROBLEMS: dict[int | str, dict[str, Any]] = {
    401: problem("no bearer token, or not one of KEFU_API_TOKENS"),
    403: problem("the token's role is too low"),
    422: problem("a parameter is invalid"),
}


class TicketPage(BaseModel):
    tickets: list[TicketProjection]
    next_cursor: str | None


class AgentNow(BaseModel):
    agent_id: str
    status: str
    skills: list[str]
    capacity: int
    tier: int
    since: datetime | None
    load: int
    solved_today: int


class Agents(BaseModel):
    agents: list[AgentNow]
    online: int


class Queue(BaseModel):
    queued: int


def analytics_api(store: AnalyticsStore, settings: Settings) -> FastAPI:
    api = FastAPI(title="kefu analytics", version="1", docs_url=None, redoc_url=None)
    api.add_exception_handler(RequestValidationError, invalid_request)
    v1 = APIRouter(prefix="/v1", responses=PROBLEMS)
    agent = Depends(role_at_least(settings, "agent"))
    supervisor = Depends(role_at_least(settings, "supervisor"))

    @api.get("/", response_class=HTMLResponse, include_in_schema=False)
    @api.get(f"{DASHBOARD}/", response_class=HTMLResponse, include_in_schema=False)
    async def dashboard() -> HTMLResponse:
        return HTMLResponse(
            dashboard_html(settings.workspace_url),
            headers={"Content-Security-Policy": CONTENT_SECURITY_POLICY},
        )

    @api.get(DASHBOARD, include_in_schema=False)
    async def to_dashboard() -> RedirectResponse:
        return RedirectResponse("dashboard/")  # relative: the public scheme and host stay

    @v1.get("/kpis", dependencies=[supervisor])
    async def kpi_range(
        start: Annotated[datetime | None, Query(alias="from")] = None,
        end: Annotated[datetime | None, Query(alias="to")] = None,
        by: Dimension | None = None,
    ) -> dict[str, Any]:
        """KPIs of a time range (default: the last 24 hours), optionally grouped."""
        start, end = _range(start, end)
        measure = Measure(Span(start, end), (by,) if by else ())
        async for one in store.updated_since(start):
            measure.add(one)
        return measure.kpis(await store.every_agent(), by)

    @v1.get(
        "/tickets/{ticket_id}",
        dependencies=[agent],
        responses={404: problem("no such ticket")},
    )
    async def ticket(ticket_id: str) -> TicketProjection:
        """A ticket's projection: status, priority, assignee, SLA, survey, timeline."""
        found = await store.ticket(ticket_id)
        if found is None:
            raise HTTPException(404, "no such ticket")
        return found

    @v1.get("/tickets", dependencies=[agent])
    async def tickets(
        status: str | None = None,
        priority: str | None = None,
        assignee: str | None = None,
        cursor: str | None = None,
        limit: Annotated[int, Query(ge=1, le=PAGE_MAX)] = 50,
    ) -> TicketPage:
        """Tickets by status, priority and assignee, a page at a time (`next_cursor`)."""
        filters = {"status": status, "priority": priority, "assignee": assignee}
        chosen = {name: value for name, value in filters.items() if value is not None}
        found = await store.page(chosen, _after(cursor), limit)
        last = found[-1].ticket_id if len(found) == limit else None
        return TicketPage(tickets=found, next_cursor=_cursor(last) if last else None)

    @v1.get("/agents", dependencies=[supervisor])
    async def agents() -> Agents:
        """Every agent's presence, load (open tickets assigned) and tickets solved today."""
        today = utc_now().replace(hour=0, minute=0, second=0, microsecond=0)
        now = []
        for one in await store.every_agent():
            load, solved_today = await store.agent_counts(one.agent_id, today)
            shown = one.model_dump(
                include={"agent_id", "status", "skills", "capacity", "tier", "since"}
            )
            now.append(AgentNow(**shown, load=load, solved_today=solved_today))
        return Agents(agents=now, online=sum(1 for one in now if one.status == "online"))

    @v1.get("/queue", dependencies=[agent])
    async def queue() -> Queue:
        """Tickets waiting for an agent."""
        return Queue(queued=await store.queue_length())

    @v1.get(
        "/export.csv",
        dependencies=[supervisor],
        response_class=Response,
        responses=content("one row per ticket", "text/csv"),
    )
    async def export() -> StreamingResponse:
        """One row per ticket, streamed, for BI tools."""
        return StreamingResponse(
            csv_rows(store.every_ticket()), media_type="text/csv; charset=utf-8"
        )

    @v1.get(
        "/charts/hourly.svg",
        dependencies=[supervisor],
        response_class=Response,
        responses=content("an SVG bar chart", "image/svg+xml"),
    )
    async def hourly_chart(
        start: Annotated[datetime | None, Query(alias="from")] = None,
        end: Annotated[datetime | None, Query(alias="to")] = None,
    ) -> Response:
        """Tickets opened and solved per hour, as an SVG bar chart."""
        start, end = _range(start, end, longest=LONGEST_CHART)
        hourly = await _hourly(store.updated_since(start), start, end)
        svg = hourly_bars_svg(hourly, "Tickets per hour")
        return Response(svg, media_type="image/svg+xml")

    @v1.get("/reports/weekly", dependencies=[supervisor], response_class=Response, responses=REPORT)
    async def weekly(
        week_label: Annotated[str, Query(alias="week", pattern=r"^\d{4}-W\d{2}$")],
        format: Literal["md", "csv"] = "md",
    ) -> PlainTextResponse:
        """The weekly service report (`week=2026-W47`): Markdown, or CSV with `format=csv`."""
        return await _report(store, settings, _period(week, week_label), format)

    @v1.get(
        "/reports/monthly", dependencies=[supervisor], response_class=Response, responses=REPORT
    )
    async def monthly(
        month_label: Annotated[str, Query(alias="month", pattern=r"^\d{4}-\d{2}$")],
        format: Literal["md", "csv"] = "md",
    ) -> PlainTextResponse:
        """The monthly report (`month=2026-11`)."""
        return await _report(store, settings, _period(month, month_label), format)

    api.include_router(v1)
    # On the one public host (deploy's Ingress) the desk has `/` and `/v1/queue`: there the
    # dashboard is /dashboard/, and its relative `v1/…` calls land here.
    api.include_router(v1, prefix=DASHBOARD, include_in_schema=False)
    return api


def _range(
    start: datetime | None, end: datetime | None, longest: timedelta | None = None
) -> tuple[datetime, datetime]:
    end = _in_years(end, "to") if end else utc_now()
    start = _in_years(start, "from") if start else end - DEFAULT_RANGE
    if start >= end:
        raise HTTPException(422, "from must be before to")
    if longest is not None and end - start > longest:
        raise HTTPException(422, f"a range of at most {longest.days} days")
    return start, end


def _in_years(value: datetime, name: str) -> datetime:
    """A query time in UTC, refused (422) without a zone or outside the years kefu keeps."""
    if value.tzinfo is None:
        raise HTTPException(422, f"{name} needs a time zone (RFC 3339, e.g. ...Z)")
    try:
        value = value.astimezone(UTC)
    except OverflowError:
        value = EARLIEST - timedelta(1)  # an offset that leaves years 1-9999: out of range
    if not EARLIEST <= value < LATEST:
        raise HTTPException(422, f"{name} must be between {EARLIEST.year} and {LATEST.year}")
    return value


def _period(parse: Any, label: str) -> Period:
    try:
        period = parse(label)
    except ValueError as error:
        raise HTTPException(422, str(error)) from None
    if not EARLIEST <= period.start < LATEST:
        raise HTTPException(422, f"a period between {EARLIEST.year} and {LATEST.year}")
    return period


async def _report(
    store: AnalyticsStore, settings: Settings, period: Period, format: str
) -> PlainTextResponse:
    made = await period_report(store, period, ticket_link(settings))
    if format == "csv":
        return PlainTextResponse(made.csv, media_type="text/csv; charset=utf-8")
    return PlainTextResponse(made.markdown, media_type="text/markdown; charset=utf-8")


def ticket_link(settings: Settings) -> Callable[[str], str]:
    return lambda ticket_id: f"{settings.analytics_url}/v1/tickets/{ticket_id}"


async def _hourly(
    tickets: AsyncIterator[TicketProjection], start: datetime, end: datetime
) -> list[tuple[datetime, int, int]]:
    """Tickets opened and solved in each hour from `start`'s hour to `end`, counted as they
    come (a long range is not held in memory)."""
    first = start.replace(minute=0, second=0, microsecond=0)
    hours = math.ceil((end - first) / HOUR)
    opened, solved = [0] * hours, [0] * hours
    async for ticket in tickets:
        for counts, at in ((opened, ticket.opened_at), (solved, ticket.solved_at)):
            if at is not None and first <= at < first + hours * HOUR:
                counts[(at - first) // HOUR] += 1
    return [(first + n * HOUR, opened[n], solved[n]) for n in range(hours)]


def _cursor(ticket_id: str) -> str:
    return base64.urlsafe_b64encode(ticket_id.encode()).decode()


def _after(cursor: str | None) -> str | None:
    if cursor is None:
        return None
    try:
        after = base64.urlsafe_b64decode(cursor.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        after = None
    if after is None or _cursor(after) != cursor:
        raise HTTPException(422, "cursor is not one this API gave")
    return after

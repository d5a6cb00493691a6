"""Analytics' API through the real broker, store and HTTP: roles and every status code, KPIs
that match the hand-computed values of a seeded set, a ticket's projection, paging,
agents, the queue, the CSV export and the weekly report."""

import asyncio
import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from kefu.report import write_report
from kefu.services.analytics.reports import week
from kefu.shared.auth import PersonClaims, person_token
from kefu.shared.events.base import utc_now
from kefu.shared.events.routing import TicketQueued
from kefu.tickets import show_ticket
from tests import sla_events as ev
from tests.browser import chromium_page
from tests.integration.analyzing import TOKENS, RunningAnalytics, running_analytics, seeded
from tests.integration.conftest import unique
from tests.integration.test_survey_page_browser import screenshot_path

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
RANGE = {"from": T0.isoformat(), "to": (T0 + timedelta(hours=3)).isoformat()}


@pytest.fixture(scope="module")
async def analytics(backend, tmp_path_factory):
    async with running_analytics(backend, tmp_path_factory.mktemp("analytics")) as running:
        yield running


@pytest.fixture(scope="module")
async def prefix(analytics: RunningAnalytics) -> str:
    prefix = unique("k")
    await analytics.send(*seeded(prefix, T0))
    await analytics.ticket(f"{prefix}B", lambda t: t["csat"] == 2)
    await analytics.ticket(f"{prefix}A", lambda t: t["csat"] == 5)
    await analytics.ticket(f"{prefix}C")
    return prefix


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/v1/kpis", "supervisor"),
        ("/v1/agents", "supervisor"),
        ("/v1/export.csv", "supervisor"),
        ("/v1/charts/hourly.svg", "supervisor"),
        ("/v1/tickets", "agent"),
        ("/v1/queue", "agent"),
    ],
)
async def test_roles(analytics: RunningAnalytics, path: str, allowed: str) -> None:
    assert (await analytics.http.get(path)).status_code == 401
    bad = await analytics.http.get(path, headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401
    if allowed == "supervisor":
        assert (await analytics.get(path, "agent")).status_code == 403
    assert (await analytics.get(path, allowed)).status_code == 200


@pytest.mark.parametrize(("roles", "status"), [(("agent",), 403), (("agent", "supervisor"), 200)])
async def test_a_persons_token_counts_with_its_highest_role(
    analytics: RunningAnalytics, roles: tuple, status: int
) -> None:
    claims = PersonClaims("wang.fang", roles, "s-1", utc_now() + timedelta(minutes=5))
    token = person_token(analytics.settings, claims)
    answer = await analytics.http.get("/v1/kpis", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == status


async def test_kpis_of_the_seeded_tickets(analytics: RunningAnalytics, prefix: str) -> None:
    kpis = (await analytics.get("/v1/kpis", "supervisor", **RANGE)).json()
    # A and B solved (B twice, reopened once), C waits: backlog 1 (of these three)
    assert kpis["tickets"]["opened"] >= 3
    mine = (await analytics.get("/v1/kpis", "supervisor", by="channel", **RANGE)).json()["by"]
    # first responses 10 min (A, email) and 20 min (B, sms); full resolution 30 and 85 min
    assert mine["email"]["first_response"]["avg_s"] == 600
    assert mine["sms"]["first_response"]["avg_s"] == 1200
    assert mine["sms"]["next_reply"]["avg_s"] == 600  # customer +30m, reply +40m
    assert mine["sms"]["resolution"]["avg_s"] == 85 * 60  # opened +5m, last solve +90m
    assert mine["sms"]["first_resolution"]["avg_s"] == 55 * 60
    assert mine["email"]["fcr_rate"] == 1.0 and mine["sms"]["fcr_rate"] == 0.0
    assert mine["email"]["csat"]["score_pct"] == 100.0 and mine["sms"]["csat"]["score_pct"] == 0.0
    assert mine["chat"]["tickets"]["backlog"] == 1
    assert mine["sms"]["tickets"]["reopened"] == 1


async def test_a_tickets_projection(analytics: RunningAnalytics, prefix: str) -> None:
    found = await analytics.get(f"/v1/tickets/{prefix}B", "agent")
    ticket = found.json()
    assert (ticket["status"], ticket["priority"], ticket["assignee"]) == ("solved", "P1", "a2")
    assert ticket["reopened"] == 1 and ticket["public_replies"] == 2
    assert [entry["type"] for entry in ticket["timeline"]][:2] == [
        "kefu.ticket.opened",
        "kefu.ticket.assigned",
    ]
    assert (await analytics.get(f"/v1/tickets/{prefix}nothing", "agent")).status_code == 404


async def test_paging_through_tickets(analytics: RunningAnalytics, prefix: str) -> None:
    seen, cursor = [], None
    while True:
        params = {"status": "solved", "limit": 1, **({"cursor": cursor} if cursor else {})}
        page = (await analytics.get("/v1/tickets", "agent", **params)).json()
        seen += [t["ticket_id"] for t in page["tickets"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert {f"{prefix}A", f"{prefix}B"} <= set(seen) and len(seen) == len(set(seen))
    assert (await analytics.get("/v1/tickets", "agent", cursor="%%%")).status_code == 422
    assert (await analytics.get("/v1/tickets", "agent", limit=0)).status_code == 422


async def test_agents_and_the_queue(analytics: RunningAnalytics, prefix: str) -> None:
    queued = ev.event(
        TicketQueued(
            ticket_id=f"{prefix}C", skills=["general"], tier=1, reason="no_agent_online", at=T0
        ),
        T0,
    )
    await analytics.send(queued)
    await analytics.ticket(f"{prefix}C", lambda t: t["queued"])
    assert (await analytics.get("/v1/queue", "agent")).json()["queued"] >= 1
    roster = (await analytics.get("/v1/agents", "supervisor")).json()
    assert roster["online"] >= 1
    assert any(a["agent_id"] == "a1" and a["status"] == "online" for a in roster["agents"])


async def test_the_export_has_a_row_per_ticket(analytics: RunningAnalytics, prefix: str) -> None:
    export = await analytics.get("/v1/export.csv", "supervisor")
    assert export.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(export.text)))
    mine = {row["ticket_id"]: row for row in rows if row["ticket_id"].startswith(prefix)}
    assert set(mine) == {f"{prefix}A", f"{prefix}B", f"{prefix}C"}
    assert mine[f"{prefix}A"]["first_response_s"] == "600.0"
    assert mine[f"{prefix}A"]["one_touch"] == "True"


async def test_the_weekly_report(analytics: RunningAnalytics, prefix: str) -> None:
    year, week, _ = T0.isocalendar()
    label = f"{year}-W{week:02d}"
    markdown = await analytics.get("/v1/reports/weekly", "supervisor", week=label)
    assert markdown.status_code == 200 and label in markdown.text
    as_csv = await analytics.get("/v1/reports/weekly", "supervisor", week=label, format="csv")
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert (
        await analytics.get("/v1/reports/weekly", "supervisor", week="2026-W99")
    ).status_code == 422
    assert (await analytics.get("/v1/reports/weekly", "supervisor", week="soon")).status_code == 422


async def test_bad_ranges_are_422(analytics: RunningAnalytics) -> None:
    backwards = {"from": RANGE["to"], "to": RANGE["from"]}
    assert (await analytics.get("/v1/kpis", "supervisor", **backwards)).status_code == 422
    naive = {"from": "2026-11-01T00:00:00", "to": "2026-11-02T00:00:00"}
    assert (await analytics.get("/v1/kpis", "supervisor", **naive)).status_code == 422
    assert (await analytics.get("/v1/kpis", "supervisor", by="color")).status_code == 422


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/v1/kpis", {"from": "0001-01-01T00:00:00+23:59", "to": "2026-11-02T00:00:00Z"}),
        ("/v1/kpis", {"to": "0001-01-01T00:00:00Z"}),
        ("/v1/kpis", {"from": "2026-11-01T00:00:00Z", "to": "9999-12-31T23:59:59-23:59"}),
        ("/v1/charts/hourly.svg", {"from": "9999-12-31T00:00:00Z"}),
        ("/v1/charts/hourly.svg", {"to": "0001-01-01T01:00:00Z"}),
        ("/v1/reports/weekly", {"week": "2500-W01"}),
        ("/v1/reports/monthly", {"month": "1969-12"}),
    ],
)
async def test_times_near_year_1_or_9999_are_422_with_a_reason(
    analytics: RunningAnalytics, path: str, query: dict[str, str]
) -> None:
    answer = await analytics.get(path, "supervisor", **query)
    assert answer.status_code == 422 and "between 1970 and 2200" in answer.text


async def test_kefu_report_writes_the_seeded_week(
    analytics: RunningAnalytics, prefix: str, tmp_path
) -> None:
    year, week_number, _ = T0.isocalendar()
    label = f"{year}-W{week_number:02d}"
    paths = await asyncio.to_thread(write_report, analytics.settings, week(label), tmp_path)
    markdown, table = (path.read_text(encoding="utf-8") for path in paths)
    detractors = markdown.split("Detractors")[1]
    assert f"{prefix}B" in detractors and f"{prefix}A" not in detractors.split("QA")[0]
    qa = markdown.split("QA")[-1]
    assert f"{prefix}A" in qa and f"{prefix}B" in qa  # at least one ticket of each agent
    assert table.startswith("section,")


async def test_the_dashboard_shows_what_the_api_says(
    analytics: RunningAnalytics, prefix: str
) -> None:
    async with chromium_page((1280, 900)) as page:  # at its public path: its calls follow it
        await page.goto(str(analytics.http.base_url.join("/dashboard/")))
        await page.get_by_label("API token", exact=True).fill(TOKENS["supervisor"])
        await page.get_by_role("button", name="Show the dashboard").click()
        await page.locator("#chart svg[role=img]").wait_for()
        shown = {
            kpi: await page.locator(f'[data-kpi="{kpi}"]').inner_text()
            for kpi in ("backlog", "online", "queued")
        }
        await page.screenshot(path=screenshot_path("dashboard-live"), full_page=True)
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    kpis = (await analytics.get("/v1/kpis", "supervisor", **{"from": today.isoformat()})).json()
    agents = (await analytics.get("/v1/agents", "supervisor")).json()
    queue = (await analytics.get("/v1/queue", "agent")).json()
    assert shown == {
        "backlog": f"{kpis['tickets']['backlog']:,}",
        "online": f"{agents['online']:,}",
        "queued": f"{queue['queued']:,}",
    }


async def test_the_dashboard_has_a_path_of_its_own(analytics: RunningAnalytics) -> None:
    """On the one public host `/` and `/v1/queue` are the desk's: the dashboard and the API it
    reads are under /dashboard/ too."""
    moved = await analytics.http.get("/dashboard")
    assert moved.status_code == 307 and moved.headers["location"] == "dashboard/"
    assert (await analytics.http.get("/dashboard/")).text == (await analytics.http.get("/")).text
    assert "queued" in (await analytics.get("/dashboard/v1/queue", "agent")).json()
    assert (await analytics.http.get("/dashboard/v1/queue")).status_code == 401
    assert "/dashboard/v1/queue" not in (await analytics.http.get("/openapi.json")).json()["paths"]


async def test_kefu_tickets_show_prints_the_projection_and_timeline(
    analytics: RunningAnalytics, prefix: str
) -> None:
    out = io.StringIO()
    url = str(analytics.http.base_url)
    code = await asyncio.to_thread(show_ticket, url, TOKENS["agent"], f"{prefix}B", out)
    shown = out.getvalue()
    assert code == 0 and shown.startswith(f"ticket {prefix}B")
    assert "status                 solved" in shown and "kefu.ticket.reopened" in shown
    missing = await asyncio.to_thread(show_ticket, url, TOKENS["agent"], "no-such", io.StringIO())
    assert missing == 1

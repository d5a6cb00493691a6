"""The analytics dashboard in a real Chromium, against a fake API on a real port: the page as
the service serves it (with its Content-Security-Policy), and the four endpoints it reads,
answering fixed figures to `Bearer good-token` and 401 to anything else.

A token typed in shows every figure, formatted, under its data-kpi; the token stays in the
tab's sessionStorage (never localStorage or a cookie); the figures refresh every 5 seconds;
a refused token brings the sign-in back with the error; "Forget token" signs out.
Screenshots at phone and desktop widths go to tests/artifacts/dashboard-*.png."""

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse

from kefu.embedded import free_port
from kefu.services.analytics.chart import hourly_bars_svg
from kefu.services.analytics.dashboard import CONTENT_SECURITY_POLICY, dashboard_html
from kefu.shared.auth import SESSION_COOKIE
from tests.browser import chromium_page
from tests.integration.conftest import served
from tests.integration.test_survey_page_browser import screenshot_path, scrolls_sideways

GOOD_TOKEN = "good-token"
GOOD_COOKIE = "a-person-signed-in-at-the-desk"
DESK = "http://127.0.0.1:8087"
TOKEN_KEY = "kefu.analytics.token"
PHONE, DESKTOP = (390, 844), (1280, 900)

KPIS: dict[str, Any] = {
    "tickets": {"opened": 1234, "solved": 987, "reopened": 12, "backlog": 57},
    "first_response": {"count": 900, "avg_s": 400.0, "p50_s": 250.4, "p90_s": 3900.0},
    "resolution": {"count": 950, "avg_s": 9000.0, "p50_s": 5400.0, "p90_s": 183600.0},
    "sla": {
        "first_response": {"met": 9, "breached": 1, "achievement": 0.9},
        "next_reply": {"met": 7, "breached": 1, "achievement": 0.875},
        "resolution": {"met": 0, "breached": 0, "achievement": None},
    },
    "csat": {"responses": 42, "score_pct": 85.7, "response_rate": 0.5},
    "nps": {"responses": 20, "score": 35.0},
    "by": {
        "channel": {
            "chat": {"tickets": {"opened": 400}},
            "email": {"tickets": {"opened": 700}},
            "sms": {"tickets": {"opened": 134}},
        }
    },
}
AGENTS = {
    "agents": [
        {"agent_id": "a1", "status": "online", "load": 3, "capacity": 4},
        {"agent_id": "a2", "status": "online", "load": 2, "capacity": 3},
        {"agent_id": "a3", "status": "away", "load": 1, "capacity": 2},
    ],
    "online": 2,
}
SHOWN = {
    "opened": "1,234",
    "solved": "987",
    "backlog": "57",
    "queued": "6",
    "online": "2",
    "load": "5",
    "capacity": "7",
    "fr-p50": "4m 10s",
    "fr-p90": "1h 05m",
    "res-p50": "1h 30m",
    "res-p90": "2d 03h",
    "sla-first_response": "90%",
    "sla-next_reply": "87.5%",
    "sla-resolution": "—",
    "csat": "85.7%",
    "csat-responses": "42",
    "nps": "+35",
    "nps-responses": "20",
    "channel-email": "700",
    "channel-chat": "400",
    "channel-sms": "134",
}
HOURS = [(7, 3), (12, 6), (18, 9), (25, 14), (21, 17), (16, 12), (9, 11), (4, 6)]


@dataclass
class FakeApi:
    """Where the page is, what each endpoint was asked, and the queue length to answer."""

    url: str
    queries: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    queued: int = 6


def fake_api_app(api: FakeApi) -> FastAPI:
    app = FastAPI()

    @app.middleware("http")
    async def bearer_only(request: Request, call_next: Any) -> Response:
        if not request.url.path.startswith("/v1/"):
            return await call_next(request)
        api.queries.setdefault(request.url.path, []).append(dict(request.query_params))
        signed_in = request.cookies.get(SESSION_COOKIE) == GOOD_COOKIE
        if request.headers.get("authorization") != f"Bearer {GOOD_TOKEN}" and not signed_in:
            return JSONResponse({"detail": "unauthorised"}, status_code=401)
        return await call_next(request)

    @app.get("/")
    async def page() -> HTMLResponse:
        return HTMLResponse(
            dashboard_html(DESK), headers={"Content-Security-Policy": CONTENT_SECURITY_POLICY}
        )

    @app.get("/v1/kpis")
    async def kpis() -> dict[str, Any]:
        return KPIS

    @app.get("/v1/agents")
    async def agents() -> dict[str, Any]:
        return AGENTS

    @app.get("/v1/queue")
    async def queue() -> dict[str, int]:
        return {"queued": api.queued}

    @app.get("/v1/charts/hourly.svg")
    async def chart() -> Response:
        midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        hours = [(midnight + timedelta(hours=n), *counts) for n, counts in enumerate(HOURS)]
        svg = hourly_bars_svg(hours, "Tickets opened and solved per hour")
        return Response(svg, media_type="image/svg+xml")

    return app


@pytest.fixture(scope="module")
async def api() -> AsyncIterator[FakeApi]:
    port = free_port()
    fake = FakeApi(f"http://127.0.0.1:{port}/")
    async with served(fake_api_app(fake), port):
        yield fake


async def sign_in(page, token: str) -> None:
    await page.get_by_label("API token", exact=True).fill(token)
    await page.get_by_role("button", name="Show the dashboard").click()


async def shown(page, kpi: str) -> str:
    return await page.locator(f'[data-kpi="{kpi}"]').inner_text()


async def storage(page) -> dict[str, Any]:
    return await page.evaluate(
        "key => ({session: sessionStorage.getItem(key), local: localStorage.length,"
        " cookies: document.cookie})",
        TOKEN_KEY,
    )


async def test_the_figures_of_the_api_refreshed_every_5_seconds(api: FakeApi) -> None:
    async with chromium_page(DESKTOP) as page:
        problems: list[str] = []  # script errors, and anything the page's policy blocked
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.on(
            "console", lambda line: "Security Policy" in line.text and problems.append(line.text)
        )
        await page.goto(api.url)
        await sign_in(page, GOOD_TOKEN)
        await page.locator("#chart svg[role=img]").wait_for()

        assert {kpi: await shown(page, kpi) for kpi in SHOWN} == SHOWN
        assert await page.locator("#chart rect.bar").count() == 2 * len(HOURS)
        assert await page.get_by_role("status").inner_text() == "Live, refreshed every 5 seconds."
        assert await storage(page) == {"session": GOOD_TOKEN, "local": 0, "cookies": ""}
        assert await page.context.cookies() == []
        assert page.url == api.url  # the form was not submitted: no token in an address
        midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        kpis_query = api.queries["/v1/kpis"][-1]
        assert kpis_query["by"] == "channel"
        assert datetime.fromisoformat(kpis_query["from"]) == midnight
        assert datetime.fromisoformat(kpis_query["to"]) > midnight
        assert api.queries["/v1/charts/hourly.svg"][-1].keys() == {"from", "to"}
        await page.screenshot(path=screenshot_path("dashboard-desktop"), full_page=True)

        api.queued = 7
        seven = page.locator('[data-kpi="queued"]', has_text=re.compile(r"^7$"))
        await seven.wait_for(timeout=8000)
        assert not problems


async def test_a_phone_shows_every_tile_without_scrolling_sideways(api: FakeApi) -> None:
    async with chromium_page(PHONE) as page:
        await page.goto(api.url)
        await sign_in(page, GOOD_TOKEN)
        await page.locator("#chart svg[role=img]").wait_for()
        assert await shown(page, "opened") == SHOWN["opened"]
        assert not await scrolls_sideways(page)
        chart = page.locator("#chart")  # wider than a phone: scrolled to the latest hour
        assert await chart.evaluate("box => box.scrollLeft + box.clientWidth === box.scrollWidth")
        assert await chart.evaluate("box => box.scrollLeft > 0")
        await page.screenshot(path=screenshot_path("dashboard-phone"), full_page=True)


async def test_a_refused_token_asks_for_the_token_again(api: FakeApi) -> None:
    async with chromium_page(PHONE) as page:
        await page.goto(api.url)
        await sign_in(page, "wrong-token")
        alert = page.get_by_role("alert")
        await alert.wait_for()
        assert "did not accept this token (401)" in await alert.inner_text()
        token_input = page.get_by_label("API token", exact=True)
        assert await token_input.is_visible()
        assert await token_input.get_attribute("type") == "password"
        assert not await page.locator("#dashboard").is_visible()
        assert await storage(page) == {"session": None, "local": 0, "cookies": ""}
        await page.screenshot(path=screenshot_path("dashboard-token-refused"), full_page=True)


async def test_forget_token_signs_out(api: FakeApi) -> None:
    async with chromium_page(PHONE) as page:
        await page.goto(api.url)
        await sign_in(page, GOOD_TOKEN)
        await page.locator('[data-kpi="opened"]').filter(has_text=SHOWN["opened"]).wait_for()
        await page.get_by_role("button", name="Forget token").click()
        assert await page.get_by_label("API token", exact=True).is_visible()
        assert await shown(page, "opened") == "—"
        assert await storage(page) == {"session": None, "local": 0, "cookies": ""}
        await page.reload()
        assert await page.get_by_label("API token", exact=True).is_visible()


async def test_signed_in_at_the_desk_it_shows_the_figures_at_once(api: FakeApi) -> None:
    """The desk's session cookie (same host) signs the dashboard's reads: nothing to type."""
    async with chromium_page(PHONE) as page:
        cookie = {"name": SESSION_COOKIE, "value": GOOD_COOKIE, "url": api.url}
        await page.context.add_cookies([cookie])
        await page.goto(api.url)
        await page.locator('[data-kpi="opened"]').filter(has_text=SHOWN["opened"]).wait_for()
        assert not await page.get_by_role("button", name="Forget token").is_visible()
        assert (await storage(page))["session"] is None


async def test_signed_out_it_asks_quietly_and_links_the_desk(api: FakeApi) -> None:
    async with chromium_page(PHONE) as page:
        await page.goto(api.url)
        await page.get_by_label("API token", exact=True).wait_for()
        assert not await page.get_by_role("alert").is_visible()
        desk = page.get_by_role("link", name="Sign in at the desk")
        assert await desk.get_attribute("href") == f"{DESK}/"
        assert await page.get_by_role("status").inner_text() == "Sign in to see the figures."
        await page.screenshot(path=screenshot_path("dashboard-sign-in"), full_page=True)

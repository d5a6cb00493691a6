"""Hostile requests to each FastAPI app in-process, with no data behind it (contract 11): any
time at any offset and any cursor or number is an answer or a 422 with a reason, the token is
checked before a body is read, a body over KEFU_MAX_BODY_BYTES is 413, and a 422 says where and
what is wrong without echoing the input."""

from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import given
from hypothesis import strategies as st

from kefu.services.analytics.api import _cursor, analytics_api
from kefu.services.notify.http import notify_api
from kefu.services.survey.http import survey_pages
from kefu.services.survey.tokens import SurveyLinks
from kefu.services.workspace.app import build as build_workspace
from kefu.shared.settings import Settings

SECRET = "s" * 32
LIMIT = 1000
ADMIN_TOKEN = "refusals-admin-token-0123456789"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
HOSTILE = "<script>" + "x" * 5000  # what must not come back
no_store: Any = None  # every request here is refused before a store is asked


def settings() -> Settings:
    return Settings(
        notify_secret=SECRET,
        survey_secret=SECRET,
        auth_secret=SECRET,
        api_tokens=f"{ADMIN_TOKEN}:admin",
        max_body_bytes=LIMIT,
    )


def client(api: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url="http://kefu")


class EmptyAnalytics:
    async def updated_since(self, start: datetime) -> list[Any]:
        return []

    async def every_agent(self) -> list[Any]:
        return []

    async def page(self, filters: dict[str, str], after: str | None, limit: int) -> list[Any]:
        return []


LONGEST_OFFSET_MIN = 23 * 60 + 59  # RFC 3339 offsets are whole minutes
offsets = st.integers(-LONGEST_OFFSET_MIN, LONGEST_OFFSET_MIN).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
near_the_ends = st.datetimes(max_value=datetime(1, 1, 2)) | st.datetimes(datetime(9999, 12, 30))
any_time = st.builds(datetime.replace, near_the_ends | st.datetimes(), tzinfo=offsets)
query_times = st.none() | any_time.map(datetime.isoformat) | st.text()
cursors = st.none() | st.text() | st.text().map(_cursor)
numbers = st.none() | st.integers().map(str) | st.text()
empty_analytics = analytics_api(EmptyAnalytics(), settings())  # type: ignore[arg-type]


async def answers_or_says_why(path: str, **query: str | None) -> None:
    """Analytics answers an admin's query (its values that are not None) or says why not."""
    sent = {name: value for name, value in query.items() if value is not None}
    async with client(empty_analytics) as http:
        answer = await http.get(path, params=sent, headers=ADMIN)
    assert answer.status_code in (200, 422), answer.text
    assert answer.status_code == 200 or answer.json()["detail"]


@given(
    path=st.sampled_from(["/v1/kpis", "/v1/charts/hourly.svg"]),
    start=query_times,
    end=query_times,
)
async def test_any_time_at_any_offset_is_a_range_or_a_reason(
    path: str, start: str | None, end: str | None
) -> None:
    await answers_or_says_why(path, **{"from": start, "to": end})


@given(cursor=cursors, limit=numbers)
async def test_any_cursor_or_limit_is_a_page_or_a_reason(
    cursor: str | None, limit: str | None
) -> None:
    await answers_or_says_why("/v1/tickets", cursor=cursor, limit=limit)


async def test_notify_checks_the_token_before_it_reads_a_body() -> None:
    pulled: list[int] = []

    async def ten_megabytes() -> AsyncIterator[bytes]:
        for _ in range(10):
            pulled.append(1)
            yield b"{broken" * 150_000

    async with client(notify_api(no_store, settings())) as http:
        answer = await http.post("/v1/optouts", content=ten_megabytes())
    assert answer.status_code == 401 and not pulled


@pytest.mark.parametrize("declared", [True, False])
async def test_notify_refuses_a_body_over_the_limit(declared: bool) -> None:
    body = b'{"channel": "email", "address": "' + b"y" * LIMIT + b'"}'

    async def streamed() -> AsyncIterator[bytes]:
        yield body

    async with client(notify_api(no_store, settings())) as http:
        sent = body if declared else streamed()
        answer = await http.post("/v1/optouts", content=sent, headers=ADMIN)
    assert answer.status_code == 413 and str(LIMIT) in answer.json()["detail"]


def analytics() -> tuple[FastAPI, dict[str, Any]]:
    return analytics_api(no_store, settings()), {
        "method": "GET",
        "url": "/v1/kpis",
        "params": {"from": HOSTILE},
        "headers": ADMIN,
    }


def notify() -> tuple[FastAPI, dict[str, Any]]:
    body = {"channel": "email", "address": HOSTILE[:900]}
    return notify_api(no_store, settings()), {
        "method": "POST",
        "url": "/v1/optouts",
        "json": body,
        "headers": ADMIN,
    }


def survey() -> tuple[FastAPI, dict[str, Any]]:
    links = SurveyLinks(SECRET, "http://kefu")
    return survey_pages(no_store, links), {
        "method": "POST",
        "url": "/s/token",
        "files": {"comment": (HOSTILE[:20], HOSTILE.encode())},
    }


def workspace() -> tuple[FastAPI, dict[str, Any]]:
    return build_workspace(settings()).fallback, {
        "method": "POST",
        "url": "/v1/people",
        "json": {"id": HOSTILE},
        "headers": ADMIN,
    }


@pytest.mark.parametrize("app", [analytics, notify, survey, workspace])
async def test_a_422_says_where_and_what_but_never_echoes_the_input(app: Any) -> None:
    api, request = app()
    async with client(api) as http:
        answer = await http.request(**request)
    assert answer.status_code == 422
    assert "xxxxx" not in answer.text and "script" not in answer.text
    [first, *_] = problems = answer.json()["detail"]
    assert first["loc"][0] in ("query", "body") and first["msg"]
    assert all("input" not in problem for problem in problems)

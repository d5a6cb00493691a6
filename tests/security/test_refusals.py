"""Hostile requests to each FastAPI app in-process, with no data behind it (contract 11): any
time at any offset and any cursor or number is an answer or a 422 with a reason, the token is
checked before a body is read, a body over KEFU_MAX_BODY_BYTES is 413, and a 422 says where and
what is wrong without echoing the input."""

import re
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import given
from hypothesis import strategies as st

from kefu.services.analytics.http import _cursor, analytics_api
from kefu.services.notify.http import notify_api
from kefu.services.survey.http import survey_pages
from kefu.services.survey.tokens import SurveyLinks
from kefu.services.workspace.app import build as build_workspace
from kefu.services.workspace.http import workspace_api
from kefu.services.workspace.people import Person
from kefu.shared.auth import PersonClaims, person_token
from kefu.shared.events.base import utc_now
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
    async def updated_since(self, start: datetime) -> AsyncIterator[Any]:
        for nothing in ():
            yield nothing

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


class OneSignIn:
    """A workspace store that knows one live sign-in, an admin's, and nothing else."""

    async def session_live(self, session_id: str, person_id: str, now: datetime) -> bool:
        return True

    async def person(self, person_id: str) -> Person:
        return Person(id=person_id, name="Ada", email="ada@example.com", roles=["admin"])


def signed_in_workspace() -> FastAPI:
    bus: Any = SimpleNamespace(settings=settings())
    return workspace_api(bus, OneSignIn(), no_store, no_store, no_store, no_store)  # type: ignore[arg-type]


def person_signed_in() -> dict[str, str]:
    claims = PersonClaims("refusals-admin", ("admin",), "s-1", utc_now() + timedelta(days=1))
    return {"Authorization": f"Bearer {person_token(settings(), claims)}"}


# each app taking JSON bodies, and the token that passes its checks
BODY_APIS = {
    "notify": (notify_api(no_store, settings()), ADMIN),
    "workspace": (signed_in_workspace(), person_signed_in()),
}
NO_TOKEN_BY_NATURE = {("POST", "/v1/sessions")}


def body_routes() -> list[tuple[str, str, str]]:
    """Each operation an app documents a body of, its path's parameters filled in."""
    return [
        (name, method.upper(), re.sub(r"\{[^}]+\}", "x-1", path))
        for name, (api, _) in BODY_APIS.items()
        for path, operations in api.openapi()["paths"].items()
        for method, operation in operations.items()
        if "requestBody" in operation
    ]


TOKEN_FIRST = [route for route in body_routes() if route[1:] not in NO_TOKEN_BY_NATURE]


def test_each_body_the_workspace_reads_by_hand_is_documented() -> None:
    """Else the tests below, which find body routes in the documents, would miss it."""
    assert {route[1:] for route in body_routes() if route[0] == "workspace"} == {
        ("POST", "/v1/people"),
        ("PATCH", "/v1/people/x-1"),
        ("POST", "/v1/sessions"),
        ("POST", "/v1/me/presence"),
        ("POST", "/v1/macros"),
        ("PUT", "/v1/macros/x-1"),
        ("POST", "/v1/tickets/x-1/actions"),
    }


@pytest.mark.parametrize(("name", "method", "path"), TOKEN_FIRST)
async def test_the_token_is_checked_before_a_body_is_read(
    name: str, method: str, path: str
) -> None:
    pulled: list[int] = []

    async def ten_megabytes_of_broken_json() -> AsyncIterator[bytes]:
        for _ in range(10):
            pulled.append(1)
            yield b"{broken" * 150_000

    async with client(BODY_APIS[name][0]) as http:
        answer = await http.request(method, path, content=ten_megabytes_of_broken_json())
    assert answer.status_code == 401 and not pulled


@pytest.mark.parametrize("declared", [True, False])
@pytest.mark.parametrize(("name", "method", "path"), body_routes())
async def test_a_body_over_the_limit_is_refused(
    name: str, method: str, path: str, declared: bool
) -> None:
    body = b'{"address": "' + b"y" * LIMIT + b'"}'

    async def streamed() -> AsyncIterator[bytes]:
        yield body

    api, token = BODY_APIS[name]
    async with client(api) as http:
        sent = body if declared else streamed()
        answer = await http.request(method, path, content=sent, headers=token)
    assert answer.status_code == 413 and str(LIMIT) in answer.json()["detail"]


FORM_APIS = {
    "survey": survey_pages(no_store, SurveyLinks(SECRET, "http://kefu"), LIMIT),
    "workspace": BODY_APIS["workspace"][0],
}
FORM_POSTS = [
    ("survey", "/s/token"),
    ("workspace", "/desk/sign-in"),
    ("workspace", "/desk/sign-out"),
    ("workspace", "/desk/presence"),
    ("workspace", "/desk/tickets/x-1/actions"),
    ("workspace", "/desk/tickets/x-1/macro"),
]


@pytest.mark.parametrize("declared", [True, False])
@pytest.mark.parametrize(("name", "path"), FORM_POSTS)
async def test_a_form_over_the_limit_is_refused(name: str, path: str, declared: bool) -> None:
    body = b"comment=" + b"y" * LIMIT

    async def streamed() -> AsyncIterator[bytes]:
        yield body

    form = {"Content-Type": "application/x-www-form-urlencoded"}
    async with client(FORM_APIS[name]) as http:
        answer = await http.post(path, content=body if declared else streamed(), headers=form)
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
    return survey_pages(no_store, links, LIMIT), {
        "method": "POST",
        "url": "/s/token",
        "files": {"comment": (HOSTILE[:20], HOSTILE.encode())},
    }


def workspace() -> tuple[FastAPI, dict[str, Any]]:
    return build_workspace(settings()).fallback, {
        "method": "POST",
        "url": "/v1/people",
        "json": {"id": HOSTILE[:900]},
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

"""Who did what (contract 11): intake as operators run it (`kefu run intake`) logs every HTTP
request once with who made it, by the static token's name or the person's id and never the
token; its door holds each token to KEFU_RATE_LIMIT; and no secret of its settings shows in a
log line, /metrics or an error body."""

import asyncio
import json
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from kefu.shared.admin import create_topics
from kefu.shared.auth import PersonClaims, person_token
from kefu.shared.events.base import utc_now
from kefu.shared.ratelimit import RateLimit, retry_after
from tests.conftest import TEST_PARTITIONS, isolated_settings
from tests.e2e.processes import leaks, secret_values, start_service
from tests.factories import message_body

pytestmark = pytest.mark.e2e
CRM, LEGACY = "crm-token-0123456789", "legacy-token-0123456789"
RATE = 5  # a second, bursts of 10


@pytest.fixture(scope="module")
def intake(backend, tmp_path_factory):
    settings = isolated_settings(
        backend, api_tokens=f"crm:{CRM}:agent,{LEGACY}:agent", rate_limit=RATE
    )
    asyncio.run(create_topics(settings, TEST_PARTITIONS))
    service = start_service("intake", settings, tmp_path_factory.mktemp("traces"))
    try:
        yield settings, service
    finally:
        service.popen.terminate()
        service.popen.wait(15)


def post(port: int, token: str | None, body: object) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    url = f"http://127.0.0.1:{port}/v1/inbound/channel"
    return httpx.post(url, json=body, headers=headers, timeout=10)


def logged(log: Path, count: int) -> list[dict]:
    """The access lines once there are `count` (a line is written after its response is
    sent, so the last one may come a moment after the client has its answer)."""
    deadline = time.monotonic() + 5
    while len(lines := access_lines(log.read_text())) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return lines


def access_lines(log_text: str) -> list[dict]:
    lines = [json.loads(line) for line in log_text.splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("event") == "http request"]


def test_every_request_is_logged_once_with_who_and_never_a_token(intake) -> None:
    settings, service = intake
    person = PersonClaims("agent-7", ("agent",), "s-1", utc_now() + timedelta(hours=1))
    asked = [
        (CRM, message_body("email", "m-trace-1"), 202, "crm", "token"),
        (
            LEGACY,
            message_body("email", received_at="1970-01-01T00:00:00Z"),
            422,
            "integration-2",
            "token",
        ),
        (
            person_token(settings, person),
            message_body("chat", "m-trace-2"),
            202,
            "agent-7",
            "person",
        ),
        ("forged-token-0123456789", message_body(), 401, "-", "none"),
    ]
    before = len(access_lines(service.log.read_text()))
    for token, body, status, _, _ in asked:
        assert post(service.port, token, body).status_code == status
    lines = logged(service.log, before + len(asked))[-len(asked) :]
    expected = [
        (who, via, "POST", "/v1/inbound/channel", status) for _, _, status, who, via in asked
    ]
    seen = [(x["who"], x["via"], x["method"], x["route"], x["status"]) for x in lines]
    assert seen == expected
    assert all(line["duration_ms"] >= 0 for line in lines)


async def burst(port: int, token: str, count: int) -> list[httpx.Response]:
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
        asks = [client.post("/v1/inbound/channel", json={}, headers=headers) for _ in range(count)]
        return await asyncio.gather(*asks)


async def test_a_token_over_its_rate_gets_429_with_retry_after_and_others_go_on(intake) -> None:
    _, service = intake
    answers = await burst(service.port, CRM, 8 * RATE)
    refused = [answer for answer in answers if answer.status_code == 429]
    assert refused and all(answer.status_code in (422, 429) for answer in answers)
    assert int(refused[0].headers["retry-after"]) >= 1
    assert "KEFU_RATE_LIMIT" in refused[0].json()["error"]
    [other] = await burst(service.port, LEGACY, 1)
    assert other.status_code == 422  # its own bucket


def test_no_secret_in_the_log_the_metrics_or_an_error_body(intake) -> None:
    settings, service = intake
    secrets = secret_values(settings)
    assert {CRM, LEGACY} <= secrets
    bodies = [
        post(service.port, token, body).text
        for token in (CRM, "x" + CRM, None)
        for body in ({"token": CRM}, message_body(text=CRM), [CRM])
    ]
    metrics = httpx.get(f"http://127.0.0.1:{service.port}/metrics", timeout=10).text
    assert not leaks(service.log.read_text() + metrics, secrets)
    assert not leaks("".join(bodies).replace(CRM, "", 0), secrets)


@pytest.mark.parametrize(
    ("times", "allowed"),
    [
        ([0.0] * 10, 10),
        ([0.0] * 11, 10),
        ([0.0] * 10 + [0.2], 11),
        ([i / 5 for i in range(30)], 30),
    ],
)
def test_a_bucket_holds_twice_the_rate_and_refills_at_the_rate(times, allowed) -> None:
    limit = RateLimit(rate=RATE, burst=2 * RATE)
    assert sum(limit.take("crm", at) == 0 for at in times) == allowed


def test_the_wait_is_until_one_more_request_is_allowed() -> None:
    limit = RateLimit(rate=RATE, burst=1)
    assert limit.take("crm", 0.0) == 0
    assert limit.take("crm", 0.1) == pytest.approx(0.1)
    assert limit.take("other", 0.1) == 0
    assert [retry_after(wait) for wait in (0.01, 1.0, 1.2)] == ["1", "1", "2"]

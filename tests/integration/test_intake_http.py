"""The HTTP door on intake's real port: every status code, and accepted bodies take the
same path as Kafka input."""

import json
import re
from datetime import timedelta

import httpx
import pytest

from kefu.shared.auth import PersonClaims, person_token
from kefu.shared.events.base import utc_now
from kefu.shared.settings import load_settings
from kefu.shared.topics import Topic
from tests.factories import message_body
from tests.integration.conftest import TOKEN, RunningIntake, unique
from tests.kafka import TopicReader

AUTH = {"Authorization": f"Bearer {TOKEN}"}
PRESENCE = {"action": "presence", "agent_id": "a", "status": "online", "capacity": 1}


async def post(
    intake: RunningIntake, path: str, body: bytes | dict, headers=AUTH
) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    async with httpx.AsyncClient(base_url=intake.url, timeout=10) as client:
        return await client.post(path, content=content, headers=headers)


async def test_a_channel_message_is_accepted_and_becomes_a_ticket(intake: RunningIntake) -> None:
    body = message_body("webform", unique("w-"), subject="Contact form", meta={"page_url": "/help"})
    response = await post(intake, "/v1/inbound/channel", body)
    assert response.status_code == 202
    assert response.json() == {
        "accepted": True,
        "topic": f"{intake.settings.topic_prefix}channel.inbound",
        "key": "webform:jane@example.com",
    }
    opened, _ = await intake.take(2, correlationid=f"webform:{body['message_id']}")
    assert opened["type"] == "kefu.ticket.opened" and opened["data"]["subject"] == "Contact form"


async def test_one_senders_messages_share_a_key_whatever_the_case_of_the_address(
    intake: RunningIntake,
) -> None:
    """Kafka keys decide partitions: `Bob@Example.COM` and `bob@example.com` are one
    sender, so their messages stay in order in one partition."""
    ids = [unique("<m-") + "@mail>" for _ in range(2)]
    async with TopicReader(intake.settings, Topic.CHANNEL_INBOUND) as inbound:
        for message_id, address in zip(ids, ("Bob@Example.COM", "bob@example.com"), strict=True):
            body = message_body("email", message_id, address)
            assert (await post(intake, "/v1/inbound/channel", body)).status_code == 202
        await inbound.take(2, lambda value: value.get("message_id") in ids)
    records = [r for r in inbound.seen if json.loads(r.value).get("message_id") in ids]
    assert {record.key for record in records} == {b"email:bob@example.com"}
    assert len({record.partition for record in records}) == 1


async def test_an_agent_action_is_accepted_and_becomes_its_event(intake: RunningIntake) -> None:
    agent = unique("agent-")
    presence = {"action": "presence", "agent_id": agent, "status": "online", "capacity": 2}
    response = await post(intake, "/v1/inbound/agent", presence)
    assert response.status_code == 202 and response.json()["key"] == agent
    [changed] = await intake.take(1, subject=agent)
    assert changed["type"] == "kefu.agent.status_changed"


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}, {"Authorization": "Basic x"}],
)
async def test_without_a_valid_bearer_token_it_is_401(intake: RunningIntake, headers) -> None:
    response = await post(intake, "/v1/inbound/channel", message_body(), headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


def person(intake: RunningIntake, person_id: str, *roles: str) -> dict[str, str]:
    """The header of a person token as the workspace signs it at sign-in (contract 8)."""
    claims = PersonClaims(person_id, roles or ("agent",), "s-1", utc_now() + timedelta(hours=1))
    return {"Authorization": f"Bearer {person_token(intake.settings, claims)}"}


async def test_a_person_token_sends_its_own_commands(intake: RunningIntake) -> None:
    agent = unique("li.wei-")
    presence = {"action": "presence", "agent_id": agent, "status": "online", "capacity": 2}
    response = await post(intake, "/v1/inbound/agent", presence, person(intake, agent))
    assert response.status_code == 202
    [changed] = await intake.take(1, subject=agent)
    assert changed["type"] == "kefu.agent.status_changed"


async def test_a_person_token_never_speaks_for_another_agent(intake: RunningIntake) -> None:
    """Static tokens are for integrations and may name any agent; a person's may not, whatever
    the person's roles."""
    command = {"action": "presence", "agent_id": "zhang.min", "status": "away", "capacity": 1}
    headers = person(intake, unique("li.wei-"), "agent", "supervisor", "admin")
    response = await post(intake, "/v1/inbound/agent", command, headers)
    assert response.status_code == 403 and "its own commands" in response.json()["error"]
    assert (await post(intake, "/v1/inbound/agent", command)).status_code == 202


async def test_a_person_token_signed_elsewhere_is_401(intake: RunningIntake) -> None:
    elsewhere = load_settings(auth_secret="another-deployments-secret-0123456789")
    claims = PersonClaims("li.wei", ("agent",), "s-1", utc_now() + timedelta(hours=1))
    headers = {"Authorization": f"Bearer {person_token(elsewhere, claims)}"}
    command = {"action": "presence", "agent_id": "li.wei", "status": "online"}
    assert (await post(intake, "/v1/inbound/agent", command, headers)).status_code == 401


@pytest.mark.parametrize("body", [b"{not json", b"\xff\xfe", b""])
async def test_bad_json_is_400(intake: RunningIntake, body: bytes) -> None:
    response = await post(intake, "/v1/inbound/channel", body)
    assert response.status_code == 400 and "not UTF-8 JSON" in response.json()["error"]


@pytest.mark.parametrize(
    ("path", "body", "where"),
    [
        ("/v1/inbound/channel", message_body("sms", address="12345"), "from.address"),
        ("/v1/inbound/channel", message_body("email", address="jane@"), "from.address"),
        (
            "/v1/inbound/channel",
            message_body(cc=[{"address": "ok@x.cn"}, {"address": "no"}]),
            "cc.1.address",
        ),
        ("/v1/inbound/channel", {**message_body(), "channel": "fax"}, "channel"),
        ("/v1/inbound/channel", [1, 2], "body"),
        ("/v1/inbound/agent", {"action": "reply", "agent_id": "a"}, "reply.command_id"),
        ("/v1/inbound/channel", message_body(received_at="1970-01-01T00:00:00Z"), "received_at"),
        ("/v1/inbound/channel", message_body(received_at="9999-12-31T23:59Z"), "received_at"),
        ("/v1/inbound/agent", PRESENCE | {"agent_id": "=cmd|' /c calc'!A0"}, "presence.agent_id"),
        ("/v1/inbound/agent", PRESENCE | {"skills": ["billing", "a b"]}, "presence.skills.1"),
    ],
)
async def test_invalid_payloads_are_422_with_what_is_wrong(
    intake: RunningIntake, path, body, where
) -> None:
    response = await post(intake, path, body)
    assert response.status_code == 422
    assert response.json()["error"] == "invalid payload"
    assert where in [problem["loc"] for problem in response.json()["detail"]]


async def test_a_body_over_the_limit_is_413_before_it_is_parsed(intake: RunningIntake) -> None:
    limit = intake.settings.max_body_bytes
    response = await post(intake, "/v1/inbound/channel", b"{" * (limit + 1))
    assert response.status_code == 413

    async def chunks():  # no Content-Length: the limit holds while streaming
        for _ in range(limit // 65536 + 2):
            yield b" " * 65536

    async with httpx.AsyncClient(base_url=intake.url, timeout=10) as client:
        streamed = await client.post("/v1/inbound/channel", content=chunks(), headers=AUTH)
    assert streamed.status_code == 413


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]
)
async def test_a_body_that_is_not_json_by_its_content_type_is_415(
    intake: RunningIntake, content_type: str
) -> None:
    headers = {**AUTH, "Content-Type": content_type}
    response = await post(intake, "/v1/inbound/channel", message_body(), headers=headers)
    assert response.status_code == 415
    assert response.json()["error"] == f"send the body as application/json, not {content_type}"


async def test_without_a_token_nothing_about_the_body_is_told(intake: RunningIntake) -> None:
    headers = {"Content-Type": "text/plain"}
    response = await post(intake, "/v1/inbound/channel", b"x" * 10, headers=headers)
    assert response.status_code == 401


@pytest.mark.parametrize(
    "content_type", [None, "application/json", "application/json; charset=utf-8", "a/b+json"]
)
async def test_json_content_types_and_none_are_accepted(intake, content_type) -> None:
    headers = {**AUTH, **({"Content-Type": content_type} if content_type else {})}
    body = message_body("webform", unique("ct-"))
    assert (await post(intake, "/v1/inbound/channel", body, headers=headers)).status_code == 202


async def test_only_post_is_allowed(intake: RunningIntake) -> None:
    async with httpx.AsyncClient(base_url=intake.url, timeout=10) as client:
        response = await client.get("/v1/inbound/channel", headers=AUTH)
    assert response.status_code == 405 and response.headers["allow"] == "POST"
    assert response.json() == {"error": "Method Not Allowed", "detail": "Method Not Allowed"}


@pytest.mark.parametrize("path", ["/v1/inbound", "/v1/inbound/channel/", "/v1/inbound/fax", "/x"])
async def test_unknown_paths_are_a_json_404(intake: RunningIntake, path: str) -> None:
    response = await post(intake, path, message_body())
    assert response.status_code == 404
    assert response.json() == {"error": "Not Found", "detail": "Not Found"}


async def test_the_openapi_document_describes_both_doors(intake: RunningIntake) -> None:
    async with httpx.AsyncClient(base_url=intake.url, timeout=10) as client:
        document = (await client.get("/openapi.json")).json()
    for path in ("/v1/inbound/channel", "/v1/inbound/agent"):
        operation = document["paths"][path]["post"]
        assert {"202", "400", "401", "403", "413", "415", "422"} <= set(operation["responses"])
        assert operation["requestBody"]["content"]["application/json"]["schema"]
    references = set(re.findall(r'"#/components/schemas/([^"]+)"', json.dumps(document)))
    assert {"Sender", "ReplyCommand"} <= references <= set(document["components"]["schemas"])
    channel = document["paths"]["/v1/inbound/channel"]["post"]["requestBody"]
    assert "from" in channel["content"]["application/json"]["schema"]["properties"]

"""The workspace served by uvicorn on a real port, on the real broker and store: people,
sign-in and its lockout, sign-out, presence on agent.inbound, role checks, the admin
bootstrap, and its tokens taken by another service (analytics)."""

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from kefu.embedded import free_port
from kefu.services.analytics.app import build as build_analytics
from kefu.services.workspace.app import build
from kefu.services.workspace.store import WorkspaceStore
from kefu.shared.admin import create_topics
from kefu.shared.settings import Settings, SettingsError
from kefu.shared.store import connect, database
from kefu.shared.topics import Topic, topic_name
from tests.conftest import TEST_PARTITIONS, Backend, isolated_settings
from tests.integration.conftest import POLICY, served, unique
from tests.kafka import TopicReader

ADMIN_PASSWORD = "admin-password-0123"
TOKENS = "test-agent-token-0123:agent,test-admin-token-0123:admin"


@dataclass
class Workspace:
    settings: Settings
    http: httpx.AsyncClient
    analytics: str
    admin: dict[str, str]  # the bootstrap admin's Authorization header

    async def sign_in(self, login: str, password: str) -> httpx.Response:
        signed = await self.http.post("/v1/sessions", json={"login": login, "password": password})
        self.http.cookies.clear()  # each request says who it is
        return signed

    async def token(self, login: str, password: str) -> dict[str, str]:
        signed = await self.sign_in(login, password)
        assert signed.status_code == 200, signed.text
        return {"Authorization": f"Bearer {signed.json()['token']}"}

    async def add(self, password: str = "correct horse", **fields: object) -> dict:
        person = {"id": unique("p-"), "name": "Li Lei", "roles": ["agent"], **fields}
        person.setdefault("email", f"{person['id']}@example.com")
        added = await self.http.post(
            "/v1/people", json={**person, "password": password}, headers=self.admin
        )
        assert added.status_code == 201, added.text
        return added.json()


@pytest.fixture(scope="module")
async def workspace(backend: Backend) -> AsyncIterator[Workspace]:
    settings = isolated_settings(
        backend,
        auth_secret="integration-auth-secret-0123456789abcdef",
        admin_password=ADMIN_PASSWORD,
        api_tokens=TOKENS,
        config=POLICY,
    )
    await create_topics(settings, TEST_PARTITIONS)
    port, analytics = free_port(), free_port()
    async with (
        served(build(settings), port),
        served(build_analytics(settings), analytics),
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http,
    ):
        running = Workspace(settings, http, f"http://127.0.0.1:{analytics}", {})
        running.admin = await running.token("admin", ADMIN_PASSWORD)
        yield running


async def test_people_are_added_listed_and_changed_by_an_admin(workspace: Workspace) -> None:
    person = await workspace.add(skills=["billing"], tier=2, capacity=3, locale="zh-CN")
    assert person["roles"] == ["agent"] and person["locale"] == "zh-CN"
    assert "password" not in person and "password_hash" not in person

    def again(**fields: object) -> dict:
        body = {**person, "password": "correct horse", **fields}
        return body

    same_id = await workspace.http.post(
        "/v1/people", json=again(email="other@example.com"), headers=workspace.admin
    )
    same_email = await workspace.http.post(
        "/v1/people",
        json=again(id=unique("p-"), email=person["email"].upper()),
        headers=workspace.admin,
    )
    assert (same_id.status_code, same_email.status_code) == (409, 409)
    assert "id" in same_id.json()["error"] and "email" in same_email.json()["error"]
    for bad in ({"id": "has space"}, {"password": "pw-xyzzy"}, {"roles": ["owner"]}, {"tier": 9}):
        fresh = {"id": unique("p-"), "email": f"{unique()}@x.com"}
        refused = await workspace.http.post(
            "/v1/people",
            json=again(**{**fresh, **bad}),
            headers=workspace.admin,
        )
        assert refused.status_code == 422, refused.text
        assert "xyzzy" not in refused.text  # the password is not echoed

    listed = await workspace.http.get("/v1/people", headers=workspace.admin)
    assert listed.status_code == 200
    assert person in listed.json() and "password_hash" not in listed.text
    assert any(p["id"] == "admin" for p in listed.json())

    changed = await workspace.http.patch(
        f"/v1/people/{person['id']}",
        json={"roles": ["agent", "supervisor"], "capacity": 8, "password": "another horse"},
        headers=workspace.admin,
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["roles"], changed.json()["capacity"]) == (["agent", "supervisor"], 8)
    assert (await workspace.sign_in(person["id"], "correct horse")).status_code == 401
    assert (await workspace.sign_in(person["id"], "another horse")).status_code == 200
    missing = await workspace.http.patch(
        "/v1/people/nobody", json={"active": False}, headers=workspace.admin
    )
    assert missing.status_code == 404


async def test_sign_in_by_id_or_email_gives_a_token_and_a_cookie(workspace: Workspace) -> None:
    person = await workspace.add(email=f"{unique('Mei.')}@Example.com")
    by_id = await workspace.sign_in(person["id"], "correct horse")
    by_email = await workspace.sign_in(person["email"].upper(), "correct horse")
    assert (by_id.status_code, by_email.status_code) == (200, 200)
    signed = by_email.json()
    assert signed["person"] == person and signed["expires_at"].endswith("Z")
    cookie = by_email.headers["set-cookie"]
    assert f"kefu_session={signed['token']}" in cookie
    assert all(part in cookie for part in ("HttpOnly", "SameSite=lax", "Path=/"))
    assert "Secure" not in cookie  # KEFU_WORKSPACE_URL is http here

    jar = {"kefu_session": signed["token"]}
    async with httpx.AsyncClient(base_url=str(workspace.http.base_url), cookies=jar) as browser:
        assert (await browser.get("/v1/me")).json() == person
        unsafe = await browser.post("/v1/me/presence", json={"status": "online"})
        assert unsafe.status_code == 401  # no cookie on unsafe methods until CSRF tokens


async def test_unknown_login_and_wrong_password_look_the_same(workspace: Workspace) -> None:
    person = await workspace.add()
    unknown = await workspace.sign_in(unique("nobody-"), "correct horse")
    wrong = await workspace.sign_in(person["id"], "wrong horse!")
    assert (unknown.status_code, wrong.status_code) == (401, 401)
    assert unknown.content == wrong.content

    await workspace.http.patch(
        f"/v1/people/{person['id']}", json={"active": False}, headers=workspace.admin
    )
    inactive = await workspace.sign_in(person["id"], "correct horse")
    assert (inactive.status_code, inactive.content) == (401, wrong.content)


async def test_five_failures_lock_the_login_even_with_the_right_password(
    workspace: Workspace,
) -> None:
    person = await workspace.add()
    for _ in range(4):
        assert (await workspace.sign_in(person["email"], "wrong horse!")).status_code == 401
    assert (await workspace.sign_in(person["id"], "correct horse")).status_code == 200
    for _ in range(5):  # a success forgot the four; five more lock
        assert (await workspace.sign_in(person["id"], "wrong horse!")).status_code == 401
    locked = await workspace.sign_in(person["id"].upper(), "correct horse")
    assert locked.status_code == 429, locked.text
    assert 898 <= int(locked.headers["Retry-After"]) <= 900
    assert (await workspace.sign_in(person["email"], "correct horse")).status_code == 200


async def test_a_signed_out_token_is_refused_at_once(workspace: Workspace) -> None:
    person = await workspace.add()
    me = await workspace.token(person["id"], "correct horse")
    assert (await workspace.http.get("/v1/me", headers=me)).status_code == 200
    signed_out = await workspace.http.delete("/v1/sessions", headers=me)
    assert signed_out.status_code == 204
    assert "kefu_session=" in signed_out.headers["set-cookie"]
    assert (await workspace.http.get("/v1/me", headers=me)).status_code == 401
    assert (await workspace.http.delete("/v1/sessions", headers=me)).status_code == 401


async def test_presence_publishes_the_persons_command(workspace: Workspace) -> None:
    person = await workspace.add(skills=["billing", "zh"], tier=2, capacity=3)
    me = await workspace.token(person["email"], "correct horse")
    async with TopicReader(workspace.settings, Topic.AGENT_INBOUND) as reader:
        sent = await workspace.http.post("/v1/me/presence", json={"status": "away"}, headers=me)
        assert sent.status_code == 202, sent.text
        command_id = sent.json()["command_id"]
        [command] = await reader.take(1, lambda c: c.get("agent_id") == person["id"], wait_s=15)
        [record] = [r for r in reader.seen if json.loads(r.value) == command]
    assert command == {
        "action": "presence",
        "agent_id": person["id"],
        "command_id": command_id,
        "status": "away",
        "skills": ["billing", "zh"],
        "capacity": 3,
        "tier": 2,
    }
    assert record.key == person["id"].encode()
    assert record.topic == topic_name(workspace.settings.topic_prefix, Topic.AGENT_INBOUND)
    bad = await workspace.http.post("/v1/me/presence", json={"status": "busy"}, headers=me)
    assert bad.status_code == 422


async def test_roles_are_checked(workspace: Workspace) -> None:
    agent = await workspace.add()
    supervisor = await workspace.add(roles=["supervisor"])
    as_agent = await workspace.token(agent["id"], "correct horse")
    as_supervisor = await workspace.token(supervisor["id"], "correct horse")
    body = {"id": unique("p-"), "name": "X", "email": f"{unique()}@x.com", "roles": ["agent"]}
    body["password"] = "correct horse"

    async def status(method: str, path: str, headers: dict[str, str], **kw: object) -> int:
        return (await workspace.http.request(method, path, headers=headers, **kw)).status_code

    assert await status("GET", "/v1/people", {}) == 401
    assert await status("GET", "/v1/people", {"Authorization": "Bearer forged"}) == 401
    assert await status("GET", "/v1/people", as_agent) == 403
    assert await status("POST", "/v1/people", as_supervisor, json=body) == 403
    assert (
        await status("GET", "/v1/people", {"Authorization": "Bearer test-agent-token-0123"}) == 403
    )
    assert (
        await status(
            "POST", "/v1/people", {"Authorization": "Bearer test-admin-token-0123"}, json=body
        )
        == 201
    )
    assert await status("GET", "/v1/me", {"Authorization": "Bearer test-admin-token-0123"}) == 401
    presence = {"status": "online"}
    assert await status("POST", "/v1/me/presence", as_supervisor, json=presence) == 202
    assert await status("POST", "/v1/me/presence", {}, json=presence) == 401

    # a person made inactive is refused by the workspace at once, whatever their token says
    await workspace.http.patch(
        f"/v1/people/{agent['id']}", json={"active": False}, headers=workspace.admin
    )
    assert await status("GET", "/v1/me", as_agent) == 401


async def test_a_person_token_is_taken_by_analytics(workspace: Workspace) -> None:
    """`GET /v1/agents` needs a supervisor: the token carries the person's roles."""
    agent = await workspace.add()
    supervisor = await workspace.add(roles=["agent", "supervisor"])
    as_agent = await workspace.token(agent["id"], "correct horse")
    me = await workspace.token(supervisor["id"], "correct horse")
    async with httpx.AsyncClient(base_url=workspace.analytics, timeout=10) as analytics:
        assert (await analytics.get("/v1/agents", headers=me)).status_code == 200
        assert (await analytics.get("/v1/agents", headers=as_agent)).status_code == 403
        assert (await analytics.get("/v1/agents")).status_code == 401
        # other services take it until it expires, even after sign-out (contract 8)
        await workspace.http.delete("/v1/sessions", headers=me)
        assert (await analytics.get("/v1/agents", headers=me)).status_code == 200


async def test_the_admin_bootstrap_is_idempotent(workspace: Workspace) -> None:
    client = connect(workspace.settings)
    store = WorkspaceStore(database(client, workspace.settings))
    try:
        outcomes = await asyncio.gather(*(store.ensure_admin(ADMIN_PASSWORD) for _ in range(3)))
        assert outcomes == ["kept"] * 3
        assert await store.ensure_admin("a-new-admin-password") == "reset"
        assert (await workspace.sign_in("admin", ADMIN_PASSWORD)).status_code == 401
        again = await asyncio.gather(*(store.ensure_admin(ADMIN_PASSWORD) for _ in range(2)))
        assert sorted(again) in (["kept", "reset"], ["reset", "reset"])
        assert await store.ensure_admin(ADMIN_PASSWORD) == "kept"
        admins = [p for p in await store.everyone() if p.id == "admin"]
        assert len(admins) == 1 and set(admins[0].roles) == {"admin", "supervisor", "agent"}
        assert (await workspace.sign_in("admin", ADMIN_PASSWORD)).status_code == 200
    finally:
        await client.close()


async def test_the_admin_is_created_once_on_a_fresh_store(backend: Backend) -> None:
    settings = isolated_settings(backend)
    client = connect(settings)
    db = database(client, settings)
    store = WorkspaceStore(db)
    try:
        for collection, models in WorkspaceStore.indexes().items():
            await db[collection].create_indexes(models)
        outcomes = await asyncio.gather(*(store.ensure_admin(ADMIN_PASSWORD) for _ in range(3)))
        assert outcomes.count("created") == 1 and len(await store.everyone()) == 1
    finally:
        await client.close()


def test_the_workspace_refuses_to_start_without_an_auth_secret(backend: Backend) -> None:
    with pytest.raises(SettingsError, match="KEFU_AUTH_SECRET"):
        build(isolated_settings(backend, auth_secret=None))

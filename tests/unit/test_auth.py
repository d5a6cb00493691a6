"""Person tokens (contract 8): signed with KEFU_AUTH_SECRET, expiring, the highest role."""

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import Depends, FastAPI

from kefu.shared.auth import (
    SESSION_COOKIE,
    Caller,
    PersonClaims,
    caller_of,
    person_claims,
    person_token,
    role_at_least,
)
from kefu.shared.events.base import utc_now
from kefu.shared.settings import SettingsError, load_settings

SECRET = "a-test-secret-of-at-least-32-characters"
NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
CLAIMS = PersonClaims("li.wei", ("agent", "supervisor"), "s-1", NOW + timedelta(hours=12))


def test_a_token_gives_back_its_claims_and_the_highest_role() -> None:
    settings = load_settings(auth_secret=SECRET)
    claims = person_claims(settings, person_token(settings, CLAIMS), now=NOW)
    assert claims == CLAIMS
    assert claims.caller() == Caller("li.wei", "supervisor", person=True, session_id="s-1")


@pytest.mark.parametrize(
    ("checking", "token", "now"),
    [
        ({"auth_secret": SECRET}, None, CLAIMS.expires_at),  # expired
        ({"auth_secret": "another-secret-of-at-least-32-chars!"}, None, NOW),  # forged
        ({}, None, NOW),  # person tokens off
        ({"auth_secret": SECRET}, "not-a-token", NOW),
        ({"auth_secret": SECRET}, "WzFd.bad", NOW),
    ],
)
def test_expired_forged_or_garbled_tokens_give_nothing(checking, token, now) -> None:
    signed = person_token(load_settings(auth_secret=SECRET), CLAIMS)
    assert person_claims(load_settings(**checking), token or signed, now=now) is None


def test_a_token_without_a_known_role_gives_nothing() -> None:
    settings = load_settings(auth_secret=SECRET)
    claims = PersonClaims("x", ("overlord",), "s", NOW + timedelta(hours=1))  # type: ignore[arg-type]
    assert person_claims(settings, person_token(settings, claims), now=NOW) is None


def test_static_tokens_are_integrations_by_their_names() -> None:
    tokens = f"crm:{'1' * 16}:admin,{'2' * 16}:agent"
    settings = load_settings(auth_secret=SECRET, api_tokens=tokens)
    assert caller_of(settings, settings.tokens(), "1" * 16) == Caller("crm", "admin")
    assert caller_of(settings, settings.tokens(), "2" * 16) == Caller("integration-2", "agent")
    assert caller_of(settings, settings.tokens(), "3" * 16) is None


@pytest.mark.parametrize("secret", ["change-me", "short", "x" * 31])
def test_a_short_or_default_auth_secret_stops_the_start(secret) -> None:
    with pytest.raises(SettingsError, match="KEFU_AUTH_SECRET"):
        load_settings(auth_secret=secret)


async def test_the_desk_cookie_is_taken_on_reads_only() -> None:
    """A person signed in at the desk reads other services' APIs on the same host with the
    session cookie; a cookie alone never authorises a change (a cross-site form sends it)."""
    settings = load_settings(auth_secret=SECRET)
    api = FastAPI()
    needed = Depends(role_at_least(settings, "agent"))

    @api.get("/thing", dependencies=[needed])
    @api.post("/thing", dependencies=[needed])
    def thing() -> dict[str, bool]:
        return {"ok": True}

    claims = PersonClaims("li.wei", ("agent",), "s-1", utc_now() + timedelta(hours=1))
    cookies = {SESSION_COOKIE: person_token(settings, claims)}
    transport = httpx.ASGITransport(api)
    async with httpx.AsyncClient(transport=transport, base_url="http://t", cookies=cookies) as c:
        assert (await c.get("/thing")).status_code == 200
        assert (await c.post("/thing")).status_code == 401

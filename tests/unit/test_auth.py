"""Person tokens (contract 8): signed with KEFU_AUTH_SECRET, expiring, the highest role."""

from datetime import UTC, datetime, timedelta

import pytest

from kefu.shared.auth import Caller, PersonClaims, caller_of, person_claims, person_token
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


def test_static_tokens_are_integrations_and_win_over_nothing() -> None:
    settings = load_settings(auth_secret=SECRET, api_tokens="tok:admin")
    assert caller_of(settings, settings.tokens(), "tok") == Caller("integration", "admin")
    assert caller_of(settings, settings.tokens(), "tok2") is None


@pytest.mark.parametrize("secret", ["change-me", "short", "x" * 31])
def test_a_short_or_default_auth_secret_stops_the_start(secret) -> None:
    with pytest.raises(SettingsError, match="KEFU_AUTH_SECRET"):
        load_settings(auth_secret=secret)

"""The customer's link (contract 8): `<KEFU_WORKSPACE_URL>/t/<token>`, the token naming the
ticket under KEFU_AUTH_SECRET; nothing else verifies, and no secret means no link."""

import hashlib
from datetime import UTC, datetime

import pytest
from itsdangerous import URLSafeSerializer

from kefu.shared.auth import PersonClaims, person_token
from kefu.shared.customer_links import SALT, customer_link, ticket_of_link_token
from kefu.shared.settings import load_settings

SECRET = "a-test-secret-of-at-least-32-characters"
SETTINGS = load_settings(auth_secret=SECRET, workspace_url="https://help.example.com/")


def token_of(link: str | None) -> str:
    assert link is not None
    base, _, token = link.rpartition("/")
    assert base == "https://help.example.com/t"
    return token


@pytest.mark.parametrize("ticket_id", ["1001", "T-20261202-0042", "工单-7"])
def test_a_link_names_its_ticket_and_is_the_same_each_time(ticket_id: str) -> None:
    link = customer_link(SETTINGS, ticket_id)
    assert link == customer_link(SETTINGS, ticket_id)
    assert ticket_of_link_token(SETTINGS, token_of(link)) == ticket_id


def sign(secret: str, salt: str, payload: object) -> str:
    digest = {"digest_method": hashlib.sha256}
    return URLSafeSerializer(secret, salt=salt, signer_kwargs=digest).dumps(payload)


def test_forged_changed_or_foreign_tokens_name_no_ticket() -> None:
    token = token_of(customer_link(SETTINGS, "1001"))
    other_secret = "another-secret-of-at-least-32-chars!"
    changed = sign(SECRET, SALT, "1002").split(".")[0]
    claims = PersonClaims("li.wei", ("agent",), "s-1", datetime(2030, 1, 1, tzinfo=UTC))
    refused = [
        sign(other_secret, SALT, "1001"),  # forged: another deployment's secret
        changed + token[token.index(".") :],  # another ticket id under 1001's signature
        sign(SECRET, "kefu.survey.link", "1001"),  # the same secret under another salt
        person_token(SETTINGS, claims),  # a person's token is not a link
        sign(SECRET, SALT, ["1001"]),  # signed, but not a ticket id
        sign(SECRET, SALT, ""),
        "",
        "not-a-token",
    ]
    for forged in refused:
        assert ticket_of_link_token(SETTINGS, forged) is None, forged


def test_without_an_auth_secret_there_is_no_link_and_nothing_verifies() -> None:
    unset = load_settings(auth_secret=None)
    assert customer_link(unset, "1001") is None
    assert ticket_of_link_token(unset, token_of(customer_link(SETTINGS, "1001"))) is None

"""Signing in and out (contract 8): what `POST /v1/sessions` and `DELETE /v1/sessions` do,
and the desk's forms do the same way.

An unknown login, a wrong password and an inactive person are one refusal (`WrongLogin`);
after 5 failures for a login within 15 minutes it is `Locked` (sessions.py), whatever the
password. The session cookie is HttpOnly and SameSite=Lax: Lax, not Strict, so an agent
following a link to the desk from a mail or a chat arrives signed in; cross-site POSTs still
carry no cookie, and only the pages' CSRF-checked forms take it on a POST (csrf.py).
"""

import asyncio
from dataclasses import dataclass
from datetime import datetime

from fastapi import Response
from pydantic import BaseModel, Field, SecretStr

from kefu.services.workspace.audit import AuditLog
from kefu.services.workspace.identity import COOKIE, Me
from kefu.services.workspace.people import Person, password_matches
from kefu.services.workspace.sessions import locked_for, login_key
from kefu.services.workspace.store import WorkspaceStore
from kefu.shared.auth import PersonClaims, person_token
from kefu.shared.events.base import utc_now
from kefu.shared.logs import get_logger
from kefu.shared.settings import Settings

log = get_logger("kefu.workspace.signing")
WRONG_LOGIN = "unknown login or wrong password"  # one sentence for both: no login probing


class SignIn(BaseModel):
    login: str = Field(min_length=1, max_length=320)
    password: SecretStr = Field(max_length=1024)


class WrongLogin(Exception):
    """Unknown login, wrong password or inactive person: one answer for all three."""


class Locked(Exception):
    """Too many failures for this login; `wait` seconds until it may be tried again."""

    def __init__(self, wait: int) -> None:
        super().__init__(wait)
        self.wait = wait


@dataclass(frozen=True)
class SignedIn:
    token: str
    expires_at: datetime
    person: Person


async def sign_in(
    settings: Settings, store: WorkspaceStore, audit: AuditLog, given: SignIn
) -> SignedIn:
    """A new session for the person `given` names; raises Locked or WrongLogin."""
    now, key = utc_now(), login_key(given.login)
    if (wait := locked_for(await store.failed_at(key), now)) is not None:
        await audit.record(key, "sign_in_failed", outcome="locked", detail=key)
        raise Locked(wait)
    person, hashed = await store.signing_in(given.login.strip())
    password = given.password.get_secret_value()
    right = await asyncio.to_thread(password_matches, hashed, password)
    if person is None or not right or not person.active:
        await store.record_failure(key, now)
        log.info("sign-in refused", person_id=person.id if person else None)
        who = person.id if person else key
        await audit.record(who, "sign_in_failed", outcome="refused", detail=key)
        raise WrongLogin
    await store.forget_failures(key)
    session = await store.start_session(person.id, settings.session_ttl, now)
    claims = PersonClaims(person.id, tuple(person.roles), session["_id"], session["expires_at"])
    log.info("signed in", person_id=person.id)
    await audit.record(person.id, "signed_in")
    return SignedIn(person_token(settings, claims), claims.expires_at, person)


def keep_session(response: Response, settings: Settings, token: str) -> None:
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(settings.session_ttl.total_seconds()),
        path="/",
        httponly=True,
        samesite="lax",
        secure=settings.workspace_url.startswith("https://"),
    )


async def sign_out(store: WorkspaceStore, audit: AuditLog, me: Me, response: Response) -> None:
    await store.end_session(me.session_id)
    log.info("signed out", person_id=me.person.id)
    await audit.record(me.person.id, "signed_out")
    response.delete_cookie(COOKIE, path="/")

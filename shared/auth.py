"""The one bearer-token check of every HTTP API: `Depends(role_at_least(settings, "admin"))`.

Two kinds of token. Integrations use the static KEFU_API_TOKENS (`name:token:role`), compared in
constant time. People use the tokens the workspace issues at sign-in (contract 8): signed
with KEFU_AUTH_SECRET (HMAC-SHA256, itsdangerous), carrying the person's id, roles, session
and expiry, and taken by every service with the person's highest role; a person's token acts
only as that person. Without KEFU_AUTH_SECRET no person token is taken. A missing, unknown,
forged or expired token is 401; a role below the one required is 403.

A person signed in at the desk also carries their token in the `kefu_session` cookie (HttpOnly,
SameSite=Lax); every API takes it on GET and HEAD only, so pages on the same host (the
dashboard) read as the person, and no cookie ever authorises a change (no CSRF to defend).
"""

import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from itsdangerous import BadSignature, URLSafeSerializer

from kefu.shared.events.base import utc_now
from kefu.shared.ratelimit import RateLimit, retry_after
from kefu.shared.settings import ROLE_RANK, Role, Settings, StaticToken

bearer = HTTPBearer(auto_error=False, description="a person's token, or a KEFU_API_TOKENS token")
PERSON_SALT = "kefu.person-token"
SESSION_COOKIE = "kefu_session"


@dataclass(frozen=True)
class Caller:
    """Who sent a request: a person (their id) or an integration's static token (its
    name)."""

    id: str
    role: Role
    person: bool = False
    session_id: str | None = None


@dataclass(frozen=True)
class PersonClaims:
    person_id: str
    roles: tuple[Role, ...]
    session_id: str
    expires_at: datetime

    def caller(self) -> Caller:
        role = max(self.roles, key=ROLE_RANK.__getitem__)
        return Caller(self.person_id, role, person=True, session_id=self.session_id)


def person_token(settings: Settings, claims: PersonClaims) -> str:
    payload = [
        claims.person_id,
        list(claims.roles),
        claims.session_id,
        claims.expires_at.timestamp(),
    ]
    return _signer(settings).dumps(payload)


def person_claims(
    settings: Settings, token: str, now: datetime | None = None
) -> PersonClaims | None:
    """The claims of a person token this deployment signed and that has not expired."""
    if settings.auth_secret is None:
        return None
    try:
        person_id, roles, session_id, expires = _signer(settings).loads(token)
        claims = PersonClaims(
            person_id, tuple(r for r in roles if r in ROLE_RANK), session_id, _utc(expires)
        )
    except (BadSignature, TypeError, ValueError, OverflowError):
        return None
    if not claims.roles or claims.expires_at <= (now or utc_now()):
        return None
    return claims


def role_at_least(
    settings: Settings, needed: Role, limit: RateLimit | None = None
) -> Callable[..., Caller]:
    """The caller, 401 without one and 403 below `needed`; with `limit`, 429 for a caller
    (or, before any token is valid, a client address) over its rate."""
    tokens = settings.tokens()

    def check(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> Caller:
        given = credentials.credentials if credentials else _cookie(request)
        caller = caller_of(settings, tokens, given) if given else None
        if limit is not None:
            _within(limit, _rate_key(request, caller))
        if caller is None:
            raise HTTPException(
                401, "a valid bearer token is required", {"WWW-Authenticate": "Bearer"}
            )
        remember(request, caller)
        if ROLE_RANK[caller.role] < ROLE_RANK[needed]:
            raise HTTPException(403, f"role {needed} or above is required")
        return caller

    return check


def _rate_key(request: Request, caller: Caller | None) -> str:
    if caller is not None:
        return f"{'person' if caller.person else 'token'}:{caller.id}"
    return f"address:{request.client.host if request.client else '-'}"


def _within(limit: RateLimit, key: str) -> None:
    wait_s = limit.take(key, time.monotonic())
    if wait_s:
        raise HTTPException(
            429,
            f"more than {limit.rate:g} requests a second (KEFU_RATE_LIMIT); slow down",
            {"Retry-After": retry_after(wait_s)},
        )


def caller_of(settings: Settings, tokens: dict[str, StaticToken], given: str) -> Caller | None:
    static = _static_token(tokens, given)
    if static is not None:
        return Caller(static.name, static.role)
    claims = person_claims(settings, given)
    return claims.caller() if claims else None


def remember(request: Request, caller: Caller) -> None:
    """Who sent the request, for its access log line (shared/access.py)."""
    request.state.caller = caller


def remembered(scope: Any) -> Caller | None:
    caller = scope.get("state", {}).get("caller")
    return caller if isinstance(caller, Caller) else None


def _cookie(request: Request) -> str | None:
    return request.cookies.get(SESSION_COOKIE) if request.method in ("GET", "HEAD") else None


def _static_token(tokens: dict[str, StaticToken], given: str) -> StaticToken | None:
    found = None
    for token, static in tokens.items():
        if hmac.compare_digest(token.encode(), given.encode()):
            found = static
    return found


def _signer(settings: Settings) -> URLSafeSerializer:
    return URLSafeSerializer(settings.signing_secret("auth_secret"), salt=PERSON_SALT)


def _utc(timestamp: Any) -> datetime:
    return datetime.fromtimestamp(float(timestamp), UTC)

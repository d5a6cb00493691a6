"""Who is asking the workspace (contract 8), as FastAPI dependencies every router shares.

A request is a person's when it carries a token the workspace issued, as `Authorization:
Bearer` or, on GET only, the `kefu_session` cookie (the desk's pages; cookie-carried changes go
through the pages' own CSRF-checked forms). The workspace also needs the token's session to be
live (read by `_id`; refused at once after sign-out) and the person to be active, and it takes
their roles as they are now, not as the token says. The people endpoints also take a static
KEFU_API_TOKENS admin token (an integration provisioning people).
"""

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request

from kefu.services.workspace.people import Person
from kefu.services.workspace.store import WorkspaceStore
from kefu.shared.auth import SESSION_COOKIE, caller_of, person_claims, remember
from kefu.shared.events.base import utc_now
from kefu.shared.settings import ROLE_RANK, Role, Settings

COOKIE = SESSION_COOKIE


@dataclass(frozen=True)
class Me:
    person: Person
    session_id: str


class Identity:
    def __init__(self, settings: Settings, store: WorkspaceStore) -> None:
        self.settings, self.store = settings, store
        self.static_tokens = settings.tokens()

    async def me(self, request: Request) -> Me:
        """The signed-in person; 401 without a live sign-in."""
        found = await self.signed_in(request, token_of(request))
        if found is None:
            raise unauthorised("a valid sign-in is required")
        return found

    async def signed_in(self, request: Request, token: str | None) -> Me | None:
        """The person whose live sign-in `token` is; the request's log line names them."""
        claims = person_claims(self.settings, token) if token else None
        if claims is None or not await self.store.session_live(
            claims.session_id, claims.person_id, utc_now()
        ):
            return None
        person = await self.store.person(claims.person_id)
        if person is None or not person.active:
            return None
        remember(request, claims.caller())
        return Me(person, claims.session_id)

    def at_least(self, role: Role) -> Any:
        """A dependency: the signed-in person, 403 below `role`."""

        async def check(found: Annotated[Me, Depends(self.me)]) -> Me:
            if ROLE_RANK[found.person.highest_role()] < ROLE_RANK[role]:
                raise HTTPException(403, f"role {role} or above is required")
            return found

        return check

    async def admin(self, request: Request) -> str:
        """Who: a signed-in admin's id, or an integration's admin token."""
        token = token_of(request) or ""
        static = caller_of(self.settings, self.static_tokens, token) if token else None
        if static is not None and not static.person:
            remember(request, static)
            if static.role != "admin":
                raise HTTPException(403, "role admin is required")
            return static.id
        return (await self.at_least("admin")(await self.me(request))).person.id


def token_of(request: Request) -> str | None:
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    if request.method in ("GET", "HEAD"):  # cookies: safe methods only
        return request.cookies.get(COOKIE)
    return None


def unauthorised(sentence: str) -> HTTPException:
    return HTTPException(401, sentence, {"WWW-Authenticate": "Bearer"})

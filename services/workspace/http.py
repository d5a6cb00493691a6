"""The workspace's HTTP API (FastAPI, mounted in its app), contract 8: people, sessions, me.

Who may ask what: identity.py. Every refusal is `{"error": <a sentence>, "detail": …}`.
"""

import asyncio
import uuid
from datetime import datetime
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, SecretStr
from starlette.exceptions import HTTPException as StarletteHTTPException

from kefu.services.workspace.identity import COOKIE, Identity, Me, unauthorised
from kefu.services.workspace.people import NewPerson, Person, PersonChange, password_matches
from kefu.services.workspace.sessions import locked_for, login_key
from kefu.services.workspace.store import PersonExists, WorkspaceStore
from kefu.shared.auth import PersonClaims, person_token
from kefu.shared.bus import Bus
from kefu.shared.events.agent import Presence
from kefu.shared.events.base import utc_now
from kefu.shared.inbound import PresenceCommand
from kefu.shared.logs import get_logger
from kefu.shared.topics import Topic

log = get_logger("kefu.workspace.http")
WRONG_LOGIN = "unknown login or wrong password"  # one sentence for both: no login probing


class SignIn(BaseModel):
    login: str = Field(min_length=1, max_length=320)
    password: SecretStr = Field(max_length=1024)


class SignedInSession(BaseModel):
    token: str
    expires_at: datetime
    person: Person


class PresenceChange(BaseModel):
    status: Presence


class CommandSent(BaseModel):
    command_id: str


def workspace_api(bus: Bus, store: WorkspaceStore) -> FastAPI:
    """The API: the people routes here, and each part's router (one module a part)."""
    settings = bus.settings
    identity = Identity(settings, store)
    api = FastAPI(
        title="kefu workspace", version="1", docs_url=None, redoc_url=None, redirect_slashes=False
    )
    api.add_exception_handler(StarletteHTTPException, _refused)
    api.add_exception_handler(RequestValidationError, _invalid)
    me, person_at_least, admin = identity.me, identity.at_least, identity.admin

    @api.post("/v1/people", status_code=201, response_model=Person)
    async def add_person(body: NewPerson, by: Annotated[str, Depends(admin)]) -> Person:
        person = body.person()
        try:
            await store.add(person, body.password.get_secret_value())
        except PersonExists as taken:
            raise HTTPException(409, f"a person with this {taken.args[0]} exists") from None
        log.info("person added", person_id=person.id, by=by)
        return person

    @api.get("/v1/people", response_model=list[Person], dependencies=[Depends(admin)])
    async def people() -> list[Person]:
        return await store.everyone()

    @api.patch("/v1/people/{person_id}", response_model=Person)
    async def change_person(
        person_id: str, body: PersonChange, by: Annotated[str, Depends(admin)]
    ) -> Person:
        password = body.password.get_secret_value() if body.password else None
        changed = await store.change(person_id, body.fields(), password)
        if changed is None:
            raise HTTPException(404, "no such person")
        log.info("person changed", person_id=person_id, fields=sorted(body.model_fields_set), by=by)
        return changed

    @api.post("/v1/sessions", response_model=SignedInSession)
    async def sign_in(body: SignIn, response: Response) -> SignedInSession:
        now, key = utc_now(), login_key(body.login)
        if (wait := locked_for(await store.failed_at(key), now)) is not None:
            raise HTTPException(429, "too many failed sign-ins", {"Retry-After": str(wait)})
        person, hashed = await store.signing_in(body.login.strip())
        given = body.password.get_secret_value()
        right = await asyncio.to_thread(password_matches, hashed, given)
        if person is None or not right or not person.active:
            await store.record_failure(key, now)
            log.info("sign-in refused", person_id=person.id if person else None)
            raise unauthorised(WRONG_LOGIN)
        await store.forget_failures(key)
        session = await store.start_session(person.id, settings.session_ttl, now)
        claims = PersonClaims(person.id, tuple(person.roles), session["_id"], session["expires_at"])
        token = person_token(settings, claims)
        # Lax, not Strict: an agent following a link to the desk from a mail or a chat arrives
        # signed in; cross-site POSTs still carry no cookie, and the cookie is taken on GET only.
        response.set_cookie(
            COOKIE,
            token,
            max_age=int(settings.session_ttl.total_seconds()),
            path="/",
            httponly=True,
            samesite="lax",
            secure=settings.workspace_url.startswith("https://"),
        )
        log.info("signed in", person_id=person.id)
        return SignedInSession(token=token, expires_at=claims.expires_at, person=person)

    @api.delete("/v1/sessions", status_code=204)
    async def sign_out(found: Annotated[Me, Depends(me)]) -> Response:
        await store.end_session(found.session_id)
        log.info("signed out", person_id=found.person.id)
        response = Response(status_code=204)
        response.delete_cookie(COOKIE, path="/")
        return response

    @api.get("/v1/me", response_model=Person)
    async def who_am_i(found: Annotated[Me, Depends(me)]) -> Person:
        return found.person

    @api.post("/v1/me/presence", status_code=202, response_model=CommandSent)
    async def presence(
        body: PresenceChange, found: Annotated[Me, Depends(person_at_least("agent"))]
    ) -> CommandSent:
        person = found.person
        command = PresenceCommand(
            action="presence",
            agent_id=person.id,
            command_id=f"presence-{uuid.uuid4().hex}",
            status=body.status,
            skills=person.skills,
            capacity=person.capacity,
            tier=person.tier,
        )
        await bus.forward(Topic.AGENT_INBOUND, command.model_dump_json().encode(), person.id)
        return CommandSent(command_id=command.command_id or "")

    return api


async def _refused(request: Request, error: StarletteHTTPException) -> JSONResponse:
    return JSONResponse(
        {"error": str(error.detail), "detail": error.detail},
        error.status_code,
        headers=error.headers,
    )


async def _invalid(request: Request, error: RequestValidationError) -> JSONResponse:
    # without each problem's `input`: it may be a password
    problems = [{k: v for k, v in e.items() if k not in ("input", "ctx")} for e in error.errors()]
    return JSONResponse({"error": "invalid request", "detail": problems}, 422)

"""The workspace's HTTP API (FastAPI, mounted in its app), contract 8: people, sessions, me.

Who may ask what: identity.py. Every refusal is `{"error": <a sentence>, "detail": …}`.
"""

from datetime import datetime
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from kefu.services.workspace import signing
from kefu.services.workspace.audit import AuditLog
from kefu.services.workspace.audit_api import audit_api
from kefu.services.workspace.customer_page import customer_page
from kefu.services.workspace.desk_pages import desk_pages
from kefu.services.workspace.identity import Identity, Me, unauthorised
from kefu.services.workspace.macro_store import MacroStore
from kefu.services.workspace.macros_api import macros_api
from kefu.services.workspace.people import NewPerson, Person, PersonChange
from kefu.services.workspace.presence import send_presence
from kefu.services.workspace.record_store import RecordStore
from kefu.services.workspace.search_api import search_api
from kefu.services.workspace.search_index import TicketSearch
from kefu.services.workspace.sending import Sender
from kefu.services.workspace.signing import SignIn
from kefu.services.workspace.store import PersonExists, WorkspaceStore
from kefu.services.workspace.tickets_http import tickets_api
from kefu.shared.bus import Bus
from kefu.shared.events.agent import Presence
from kefu.shared.http_errors import Refusal, documented_body, json_body, problems, refusals
from kefu.shared.logs import get_logger

log = get_logger("kefu.workspace.http")
TOO_MANY = "too many failed sign-ins"


class SignedInSession(BaseModel):
    token: str
    expires_at: datetime
    person: Person


class PresenceChange(BaseModel):
    status: Presence


class CommandSent(BaseModel):
    command_id: str


def workspace_api(
    bus: Bus,
    store: WorkspaceStore,
    audit: AuditLog,
    record: RecordStore,
    macros: MacroStore,
    search: TicketSearch,
) -> FastAPI:
    """The API: the people routes here, and each part's router (one module a part)."""
    settings = bus.settings
    identity = Identity(settings, store)
    api = FastAPI(
        title="kefu workspace", version="1", docs_url=None, redoc_url=None, redirect_slashes=False
    )
    api.add_exception_handler(StarletteHTTPException, _refused)
    api.add_exception_handler(RequestValidationError, _invalid)
    me, person_at_least, admin = identity.me, identity.at_least, identity.admin
    limit = settings.max_body_bytes
    # each read after the route's token check: FastAPI would read and parse a body before it
    NewPersonBody = Annotated[NewPerson, Depends(json_body(NewPerson, limit))]
    PersonChangeBody = Annotated[PersonChange, Depends(json_body(PersonChange, limit))]
    SignInBody = Annotated[SignIn, Depends(json_body(SignIn, limit))]
    PresenceBody = Annotated[PresenceChange, Depends(json_body(PresenceChange, limit))]

    @api.post(
        "/v1/people",
        status_code=201,
        response_model=Person,
        responses=refusals(400, 401, 403, 409, 413, 422, model=Refusal),
        openapi_extra=documented_body(NewPerson),
    )
    async def add_person(by: Annotated[str, Depends(admin)], body: NewPersonBody) -> Person:
        person = body.person()
        try:
            await store.add(person, body.password.get_secret_value())
        except PersonExists as taken:
            raise HTTPException(409, f"a person with this {taken.args[0]} exists") from None
        log.info("person added", person_id=person.id, by=by)
        await audit.record(by, "person_added", detail=person.id)
        return person

    @api.get(
        "/v1/people",
        response_model=list[Person],
        dependencies=[Depends(admin)],
        responses=refusals(401, 403, model=Refusal),
    )
    async def people() -> list[Person]:
        return await store.everyone()

    @api.patch(
        "/v1/people/{person_id}",
        response_model=Person,
        responses=refusals(400, 401, 403, 404, 413, 422, model=Refusal),
        openapi_extra=documented_body(PersonChange),
    )
    async def change_person(
        person_id: str, by: Annotated[str, Depends(admin)], body: PersonChangeBody
    ) -> Person:
        password = body.password.get_secret_value() if body.password else None
        changed = await store.change(person_id, body.fields(), password)
        if changed is None:
            raise HTTPException(404, "no such person")
        log.info("person changed", person_id=person_id, fields=sorted(body.model_fields_set), by=by)
        await audit.record(by, "person_changed", detail=f"{person_id}: {_names(body)}")
        return changed

    @api.post(
        "/v1/sessions",
        response_model=SignedInSession,
        responses=refusals(400, 401, 413, 422, 429, model=Refusal),
        openapi_extra=documented_body(SignIn),
    )
    async def sign_in(body: SignInBody, response: Response) -> SignedInSession:
        try:
            signed = await signing.sign_in(settings, store, audit, body)
        except signing.Locked as locked:
            raise HTTPException(429, TOO_MANY, {"Retry-After": str(locked.wait)}) from None
        except signing.WrongLogin:
            raise unauthorised(signing.WRONG_LOGIN) from None
        signing.keep_session(response, settings, signed.token)
        return SignedInSession(
            token=signed.token, expires_at=signed.expires_at, person=signed.person
        )

    @api.delete("/v1/sessions", status_code=204, responses=refusals(401, model=Refusal))
    async def sign_out(found: Annotated[Me, Depends(me)]) -> Response:
        response = Response(status_code=204)
        await signing.sign_out(store, audit, found, response)
        return response

    @api.get("/v1/me", response_model=Person, responses=refusals(401, model=Refusal))
    async def who_am_i(found: Annotated[Me, Depends(me)]) -> Person:
        return found.person

    @api.post(
        "/v1/me/presence",
        status_code=202,
        response_model=CommandSent,
        responses=refusals(400, 401, 413, 422, model=Refusal),
        openapi_extra=documented_body(PresenceChange),
    )
    async def presence(
        found: Annotated[Me, Depends(person_at_least("agent"))], body: PresenceBody
    ) -> CommandSent:
        command_id = await send_presence(bus, audit, found.person, body.status)
        return CommandSent(command_id=command_id)

    api.include_router(audit_api(identity, audit))
    api.include_router(search_api(identity, search))
    api.include_router(macros_api(identity, macros, record, Sender(bus, record, audit), audit))
    api.include_router(tickets_api(identity, record, store, Sender(bus, record, audit)))
    api.include_router(desk_pages(bus, identity, store, audit, record, macros, search))
    api.include_router(customer_page(settings, record, store))
    return api


def _names(change: PersonChange) -> str:
    """The fields a change set, by name: a password is named, never shown."""
    return ", ".join(sorted(change.model_fields_set))


async def _refused(request: Request, error: StarletteHTTPException) -> JSONResponse:
    return JSONResponse(
        {"error": str(error.detail), "detail": error.detail},
        error.status_code,
        headers=error.headers,
    )


async def _invalid(request: Request, error: RequestValidationError) -> JSONResponse:
    return JSONResponse({"error": "invalid request", "detail": problems(error)}, 422)

"""Notify's HTTP API (FastAPI, mounted in the service's app): opt-outs for admins, and the
one-click unsubscribe link every customer mail carries (RFC 8058: a POST from the mail
client, or a GET from a person, who gets a page with a button)."""

from html import escape
from typing import Annotated, Literal

from fastapi import Depends, FastAPI, HTTPException
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from kefu.services.notify.signing import unsubscribed
from kefu.services.notify.store import NotifyStore
from kefu.shared.auth import role_at_least
from kefu.shared.http_errors import documented_body, invalid_request, json_body, refusals
from kefu.shared.settings import Settings

OptOutChannel = Literal["email", "sms"]


class OptOut(BaseModel):
    channel: OptOutChannel
    address: str = Field(min_length=1, max_length=320, description="email address or E.164")


class OptOutState(OptOut):
    opted_out: bool


PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>{title}</title></head>
<body style="font-family: sans-serif; max-width: 32em; margin: 3em auto">{body}</body></html>"""


def notify_api(store: NotifyStore, settings: Settings) -> FastAPI:
    api = FastAPI(title="kefu notify", version="1", docs_url=None, redoc_url=None)
    api.add_exception_handler(RequestValidationError, invalid_request)
    admin = Depends(role_at_least(settings, "admin"))
    # after the token check: FastAPI would read and parse the body before it
    OptOutBody = Annotated[OptOut, Depends(json_body(OptOut, settings.max_body_bytes))]
    secret = settings.signing_secret("notify_secret")
    body = documented_body(OptOut)

    @api.post(
        "/v1/optouts",
        status_code=201,
        dependencies=[admin],
        responses=refusals(401, 403, 413, 422),
        openapi_extra=body,
    )
    async def opt_out(request: OptOutBody) -> OptOutState:
        """The address gets no more customer messages on that channel."""
        await store.opt_out(request.channel, request.address)
        return OptOutState(**request.model_dump(), opted_out=True)

    @api.delete(
        "/v1/optouts",
        dependencies=[admin],
        responses=refusals(401, 403, 404, 413, 422),
        openapi_extra=body,
    )
    async def opt_in(request: OptOutBody) -> OptOutState:
        """The address gets customer messages again."""
        if not await store.opt_in(request.channel, request.address):
            raise HTTPException(404, "that address had not opted out")
        return OptOutState(**request.model_dump(), opted_out=False)

    def subject_of(token: str) -> tuple[str, str]:
        found = unsubscribed(secret, token)
        if found is None:
            raise HTTPException(404, "this unsubscribe link is not valid")
        return found

    @api.get("/v1/unsubscribe", response_class=HTMLResponse, responses=refusals(404))
    async def unsubscribe_page(token: str) -> str:
        _, address = subject_of(token)
        form = (
            f"<p>Stop messages about your tickets to <b>{escape(address)}</b>?</p>"
            f'<form method="post" action="?token={escape(token)}">'
            '<button type="submit" name="List-Unsubscribe" value="One-Click">'
            "Unsubscribe</button></form>"
        )
        return PAGE.format(title="Unsubscribe", body=form)

    @api.post("/v1/unsubscribe", response_class=HTMLResponse, responses=refusals(404))
    async def unsubscribe(token: str) -> str:
        """RFC 8058 one-click: the token is in the link; the body says List-Unsubscribe."""
        channel, address = subject_of(token)
        await store.opt_out(channel, address)
        return PAGE.format(title="Unsubscribed", body=f"<p>{escape(address)} is unsubscribed.</p>")

    return api

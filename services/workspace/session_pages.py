"""The desk's sign-in, sign-out and presence forms: the same sign-in (its one refusal, its
lockout), sign-out and presence command as `POST /v1/sessions`, `DELETE /v1/sessions` and
`POST /v1/me/presence` (signing.py, presence.py), each answered with a redirect."""

from typing import get_args
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from kefu.services.workspace import signing
from kefu.services.workspace.audit import AuditLog
from kefu.services.workspace.csrf import local_path
from kefu.services.workspace.desk_requests import PRESENCE_COOKIE, DeskRequests, field
from kefu.services.workspace.identity import Me
from kefu.services.workspace.page_texts import text
from kefu.services.workspace.presence import send_presence
from kefu.services.workspace.store import WorkspaceStore
from kefu.shared.bus import Bus
from kefu.shared.events.agent import Presence

PRESENCES: tuple[str, ...] = get_args(Presence)


def session_pages(
    bus: Bus, desk: DeskRequests, store: WorkspaceStore, audit: AuditLog
) -> APIRouter:
    settings = bus.settings
    router = APIRouter(include_in_schema=False)

    @router.post("/desk/sign-in")
    async def sign_in(request: Request) -> Response:
        form = await desk.form(request)
        if not desk.ours(request):  # a sign-in planted by another site (login CSRF)
            return desk.problem(request, None, 403)
        lang = desk.browser_lang(request)
        login, next_path = field(form, "login"), local_path(field(form, "next"))
        again = {"login": login, "next": next_path}
        try:
            given = signing.SignIn.model_validate(
                {"login": login, "password": field(form, "password")}
            )
            signed = await signing.sign_in(settings, store, audit, given)
        except (ValidationError, signing.WrongLogin):
            return desk.sign_in_page(request, 401, error=text(lang, "wrong_login"), **again)
        except signing.Locked as locked:
            said = text(lang, "locked", minutes=-(-locked.wait // 60))
            page = desk.sign_in_page(request, 429, error=said, **again)
            page.headers["Retry-After"] = str(locked.wait)
            return page
        response = RedirectResponse(next_path, 303)
        signing.keep_session(response, settings, signed.token)
        return response

    @router.post("/desk/sign-out")
    async def sign_out(request: Request) -> Response:
        async def out(me: Me, form: FormData) -> Response:
            response = RedirectResponse("/", 303)
            await signing.sign_out(store, audit, me, response)
            response.delete_cookie(PRESENCE_COOKIE, path="/")
            return response

        return await desk.posted(request, out)

    @router.post("/desk/presence")
    async def presence(request: Request) -> Response:
        """Back to the page the switch was on, which then shows the presence set."""
        came_from = urlsplit(request.headers.get("referer") or "")
        back = came_from.path + (f"?{came_from.query}" if came_from.query else "")

        async def switch(me: Me, form: FormData) -> Response:
            response, status = RedirectResponse(local_path(back), 303), field(form, "status")
            if status in PRESENCES:
                await send_presence(bus, audit, me.person, status)  # type: ignore[arg-type]
                age = int(settings.session_ttl.total_seconds())
                response.set_cookie(
                    PRESENCE_COOKIE, status, age, path="/", httponly=True, samesite="lax"
                )
            return response

        return await desk.posted(request, switch)

    return router

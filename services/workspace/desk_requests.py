"""Who asks the desk's pages, whether their form may be taken, and how a page answers them.

The pages read the session cookie themselves, on every method: a POST is taken only from
the desk's origin with the session's CSRF token (csrf.py). The JSON API never takes the
cookie on a POST (identity.py). A page speaks the person's language, or the browser's
before sign-in.
"""

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from kefu.services.workspace.csrf import csrf_matches, csrf_token, local_path, origin_of
from kefu.services.workspace.csrf import same_origin as from_our_origin
from kefu.services.workspace.identity import COOKIE, Identity, Me
from kefu.services.workspace.page_kit import Pages
from kefu.services.workspace.page_texts import accepted_locale, page_locale, text
from kefu.shared.events.base import utc_now
from kefu.shared.http_errors import read_body
from kefu.shared.policy import load_policy
from kefu.shared.settings import Settings

PRESENCE_COOKIE = "kefu_presence"  # the presence last set here, to show which is on
Taker = Callable[[Me, FormData], Awaitable[Response]]


class DeskRequests:
    def __init__(self, settings: Settings, identity: Identity) -> None:
        self.settings, self.identity = settings, identity
        self.secret = settings.signing_secret("auth_secret")
        self.pages = Pages(load_policy(settings.config).notify.zone())

    async def signed_in(self, request: Request) -> Me | None:
        token = request.cookies.get(COOKIE)
        return await self.identity.signed_in(request, token) if token else None

    async def posted(self, request: Request, take: Taker) -> Response:
        """`take`'s answer to a form from our origin with the signed-in person's token; else
        403, or the way to the sign-in page for someone signed out."""
        form = await self.form(request)
        me = await self.signed_in(request)
        token = field(form, "csrf")
        if not self.ours(request) or (me and not csrf_matches(self.secret, me.session_id, token)):
            return self.problem(request, me, 403)
        return await take(me, form) if me else RedirectResponse("/", 303)

    async def form(self, request: Request) -> FormData:
        """The posted form's fields; 413 past KEFU_MAX_BODY_BYTES, before any is parsed."""
        raw = await read_body(request, self.settings.max_body_bytes)
        # latin-1 never fails, as Starlette's own form parser reads a form
        return FormData(parse_qsl(raw.decode("latin-1"), keep_blank_values=True))

    def ours(self, request: Request) -> bool:
        origins = {origin_of(self.settings.workspace_url), origin_of(str(request.base_url))}
        known = {origin for origin in origins if origin}
        return from_our_origin(request.headers.get("origin"), request.headers.get("referer"), known)

    def show(
        self, request: Request, me: Me, template: str, status: int = 200, **values: Any
    ) -> Any:
        """A desk page for the signed-in person, with the bar's search, presence and forms."""
        return self.pages.page(
            template,
            page_locale(me.person.locale),
            utc_now(),
            status,
            me=me.person,
            csrf=csrf_token(self.secret, me.session_id),
            presence=request.cookies.get(PRESENCE_COOKIE),
            **{"q": "", **values},
        )

    def sign_in_page(self, request: Request, status: int = 200, **values: Any) -> HTMLResponse:
        shown = {"error": None, "login": "", "next": local_path(request.url.path), **values}
        return self.pages.page(
            "sign_in.html", self.browser_lang(request), utc_now(), status, **shown
        )

    def problem(self, request: Request, me: Me | None, status: int) -> HTMLResponse:
        lang = page_locale(me.person.locale) if me else self.browser_lang(request)
        title, detail = text(lang, f"{status}.title"), text(lang, f"{status}.detail")
        return self.pages.page(
            "problem.html", lang, utc_now(), status, title=title, detail=detail, customer=False
        )

    @staticmethod
    def browser_lang(request: Request) -> str:
        return accepted_locale(request.headers.get("accept-language"))


def field(form: FormData, name: str) -> str:
    """A form's text field (line breaks as `\\n`), "" when absent or a file."""
    value = form.get(name)
    return value.replace("\r\n", "\n") if isinstance(value, str) else ""

"""How the workspace's pages are rendered and served: Jinja2 templates (autoescaped) from
`templates/`, the stylesheet and the desk's one script from `static/`, and the headers every
page carries. No inline script or style anywhere, so the Content-Security-Policy allows only
the workspace's own files; the customer's view allows no script at all."""

import json
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from kefu.services.workspace.page_texts import TEXTS, local_time, remaining, text

HERE = Path(__file__).parent
STATIC = {"desk.css": "text/css; charset=utf-8", "desk.js": "text/javascript; charset=utf-8"}
COMMON = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}
DESK_HEADERS = {
    **COMMON,
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'",
    "Referrer-Policy": "same-origin",  # csrf.py: `no-referrer` would make Origin `null`
}
CUSTOMER_HEADERS = {
    **COMMON,
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; "
    "form-action 'none'; frame-ancestors 'none'; base-uri 'none'",
    "Referrer-Policy": "no-referrer",  # the page's address is the customer's key
}


class Pages:
    def __init__(self, zone: ZoneInfo) -> None:
        self.zone = zone
        self.env = Environment(
            loader=FileSystemLoader(HERE / "templates"),
            autoescape=select_autoescape(enabled_extensions=("html",), default=True),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )

    def html(self, template: str, lang: str, now: datetime, **values: Any) -> str:
        return self.env.get_template(template).render(**self._context(lang, now), **values)

    def parts(self, template: str, lang: str, now: datetime) -> Any:
        """A template's macros, each rendering one part of a page (desk.js swaps them in)."""
        return self.env.get_template(template).make_module(self._context(lang, now))

    def _context(self, lang: str, now: datetime) -> dict[str, Any]:
        def t(key: str, **more: object) -> str:
            return text(lang, key, **more)

        return {
            "lang": lang,
            "t": t,
            "now": now,
            "when": lambda at: local_time(at, self.zone),
            "due": lambda at: remaining(at, now, lang),
            "link": web_link,
            "countdown": json.dumps(
                {key: TEXTS[lang][key] for key in COUNTDOWN}, ensure_ascii=False
            ),
        }

    def page(
        self,
        template: str,
        lang: str,
        now: datetime,
        status: int = 200,
        headers: dict[str, str] = DESK_HEADERS,
        **values: Any,
    ) -> HTMLResponse:
        return HTMLResponse(self.html(template, lang, now, **values), status, headers=headers)


COUNTDOWN = ("due.in", "due.over", "span.d", "span.h", "span.m")  # what desk.js formats with


def web_link(url: str) -> bool:
    """Whether an attachment's URL may be a link: http(s) only, never `javascript:`."""
    return url.lower().startswith(("https://", "http://"))


def static_file(name: str) -> Response:
    if name not in STATIC:
        return Response("not found", 404, headers=COMMON)
    headers = {**COMMON, "Cache-Control": "public, max-age=300"}
    return Response(_read(name), headers=headers, media_type=STATIC[name])


@cache
def _read(name: str) -> bytes:
    return (HERE / "static" / name).read_bytes()

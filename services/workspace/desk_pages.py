"""The desk in the browser (contract 8 `GET /`): server-rendered pages on the same record,
search, macros and senders as the JSON API, in the person's language.

- `GET /`: the sign-in form when signed out, else the person's tickets (ordered as
  `GET /v1/me/tickets`) and, for supervisors, the queue.
- `GET /desk/tickets/{id}`: the conversation, the customer's other tickets and a form for
  each action; `…/live` the parts the desk's script refreshes (JSON of rendered HTML).
- `GET /desk/search?q=`: the search's results.
- Forms POST to `/desk/tickets/{id}/actions` and `…/macro` (and session_pages.py's), each
  answered with a redirect (POST, redirect, GET); what was sent shows on the ticket's page
  (`?sent=<command ids>`) as pending, applied or refused.

Every form carries the session's CSRF token and must come from the desk's origin
(desk_requests.py).
"""

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from kefu.services.workspace.audit import AuditLog
from kefu.services.workspace.commands import ActionRefused, ticket_command
from kefu.services.workspace.desk_requests import DeskRequests, field
from kefu.services.workspace.entries import Entry
from kefu.services.workspace.identity import Identity, Me
from kefu.services.workspace.macro_store import MacroStore
from kefu.services.workspace.macros import MacroRefused
from kefu.services.workspace.macros_api import macro_commands
from kefu.services.workspace.ordering import desk_order
from kefu.services.workspace.page_kit import static_file
from kefu.services.workspace.page_texts import page_locale, text
from kefu.services.workspace.paging import BadCursor
from kefu.services.workspace.record import TicketSummary
from kefu.services.workspace.record_store import RecordStore
from kefu.services.workspace.search_index import QueryRefused, TicketSearch
from kefu.services.workspace.sending import NOT_SENT, NotSent, Sender, new_command_id
from kefu.services.workspace.session_pages import session_pages
from kefu.services.workspace.store import WorkspaceStore
from kefu.services.workspace.tickets_http import _named
from kefu.shared.bus import Bus
from kefu.shared.events.base import utc_now
from kefu.shared.identifiers import Identifier, is_identifier
from kefu.shared.inbound import TicketCommand
from kefu.shared.settings import ROLE_RANK

FIELDS = ("action", "text", "status", "priority", "to_agent_id", "to_skill", "reason")
QUEUE_SHOWN, RESULTS_SHOWN, SENT_SHOWN = 100, 20, 10


async def whole_conversation(
    record: RecordStore, people: WorkspaceStore, ticket: TicketSummary
) -> list[Entry]:
    """Every entry of the ticket and of those merged into it, with its agents' names."""
    sources = await record.merged_sources(ticket)
    return await _named(await record.conversation([ticket.ticket_id, *sources]), people)


def desk_pages(
    bus: Bus,
    identity: Identity,
    store: WorkspaceStore,
    audit: AuditLog,
    record: RecordStore,
    macros: MacroStore,
    search: TicketSearch,
) -> APIRouter:
    desk = DeskRequests(bus.settings, identity)
    pages, sender = desk.pages, Sender(bus, record, audit)
    router = APIRouter(include_in_schema=False)
    router.include_router(session_pages(bus, desk, store, audit))

    @router.get("/")
    async def home(request: Request) -> Response:
        me = await desk.signed_in(request)
        if me is None:
            return desk.sign_in_page(request)
        boss = ROLE_RANK[me.person.highest_role()] >= ROLE_RANK["supervisor"]
        mine = sorted(await record.desk(me.person.id), key=desk_order)
        queue = await record.queue(QUEUE_SHOWN) if boss else None
        return desk.show(request, me, "desk.html", mine=mine, queue=queue)

    async def ticket_page(
        request: Request, me: Me, ticket_id: str, status: int = 200, **values: Any
    ) -> Response:
        ticket = await record.summary(ticket_id)
        if ticket is None:
            return desk.problem(request, me, 404)
        sent_ids = values.pop("sent_ids", ())
        live = f"{_ticket_path(ticket_id)}/live" + (
            f"?sent={','.join(sent_ids)}" if sent_ids else ""
        )
        return desk.show(
            request,
            me,
            "ticket.html",
            status,
            **await live_values(me, ticket, sent_ids),
            history=await record.history(ticket),
            macros=await macros.every(),
            live=live,
            act=f"{_ticket_path(ticket_id)}/actions",
            act_macro=f"{_ticket_path(ticket_id)}/macro",
            **{"problem": None, **values},
        )

    async def live_values(me: Me, ticket: TicketSummary, sent_ids: Any) -> dict[str, Any]:
        entries = await whole_conversation(record, store, ticket)
        names = await store.names([ticket.assignee]) if ticket.assignee else {}
        sent = [found for found in [await record.command(c) for c in sent_ids] if found]
        mine = [command for command in sent if command.person_id == me.person.id]
        return {"ticket": ticket, "entries": entries, "names": names, "sent": mine}

    @router.get("/desk/tickets/{ticket_id}")
    async def ticket(request: Request, ticket_id: Identifier, sent: str = "") -> Response:
        me = await desk.signed_in(request)
        if me is None:
            return desk.sign_in_page(request)
        return await ticket_page(request, me, ticket_id, sent_ids=_sent_ids(sent))

    @router.get("/desk/tickets/{ticket_id}/live")
    async def live(request: Request, ticket_id: Identifier, sent: str = "") -> Response:
        me = await desk.signed_in(request)
        ticket = await record.summary(ticket_id) if me else None
        if me is None or ticket is None:
            return JSONResponse({"error": "no such ticket, or signed out"}, 404)
        values = await live_values(me, ticket, _sent_ids(sent))
        parts = pages.parts("_ticket_parts.html", page_locale(me.person.locale), utc_now())
        rendered = {
            "facts": parts.facts(values["ticket"], values["names"]),
            "commands": parts.commands(values["sent"]),
            "entries": parts.entries(values["entries"]),
        }
        return JSONResponse(
            {"parts": {name: str(html) for name, html in rendered.items()}},
            headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
        )

    @router.post("/desk/tickets/{ticket_id}/actions")
    async def act(request: Request, ticket_id: Identifier) -> Response:
        async def action(me: Me, form: FormData) -> Response:
            body = {name: value for name in FIELDS if (value := field(form, name).strip())}
            public = {"public": True} if body.get("action") == "reply" else {}
            made = partial(_commands, {**body, **public}, me, ticket_id)
            return await send(request, me, ticket_id, made)

        return await desk.posted(request, action)

    @router.post("/desk/tickets/{ticket_id}/macro")
    async def apply_macro(request: Request, ticket_id: Identifier) -> Response:
        async def applying(me: Me, form: FormData) -> Response:
            macro_id = field(form, "macro_id")
            made = partial(macro_of, me, ticket_id, macro_id)
            return await send(request, me, ticket_id, made, macro_id)

        return await desk.posted(request, applying)

    async def macro_of(me: Me, ticket_id: str, macro_id: str) -> list[TicketCommand]:
        macro = await macros.macro(macro_id)
        if macro is None:
            raise ActionRefused([{"msg": text(page_locale(me.person.locale), "macro.unknown")}])
        try:
            return await macro_commands(macro, record, me.person, ticket_id)
        except MacroRefused as refused:
            raise ActionRefused([{"msg": f"text: {refused.args[0]}"}]) from None

    async def send(
        request: Request,
        me: Me,
        ticket_id: str,
        commands: Callable[[], Awaitable[list[TicketCommand]]],
        macro_id: str | None = None,
    ) -> Response:
        """Send the commands as the person, in order, and show them on the ticket's page."""
        lang = page_locale(me.person.locale)
        try:
            made = await commands()
        except ActionRefused as refused:
            problems = "; ".join(str(problem["msg"]) for problem in refused.problems)
            said = text(lang, "refused", problems=problems)
            return await ticket_page(request, me, ticket_id, 422, problem=said)
        try:
            for command in made:  # one after the other: intake takes them in this order
                await sender.send(me.person.id, command)
        except NotSent:
            return await ticket_page(request, me, ticket_id, 503, problem=NOT_SENT)
        if macro_id:
            await audit.record(me.person.id, "macro_applied", ticket_id, detail=macro_id)
        sent = ",".join(command.command_id for command in made)
        return RedirectResponse(f"{_ticket_path(ticket_id)}?sent={quote(sent)}", 303)

    @router.get("/desk/search")
    async def search_page(request: Request, q: str = "", cursor: str | None = None) -> Response:
        me = await desk.signed_in(request)
        if me is None:
            return desk.sign_in_page(request)
        found, more, refused = [], None, None
        if q.strip():
            try:
                page = await search.search(q, RESULTS_SHOWN, cursor)
                found = page.tickets
                if page.next_cursor:
                    more = "/desk/search?" + urlencode({"q": q, "cursor": page.next_cursor})
            except (QueryRefused, BadCursor) as problem_found:
                refused = str(problem_found)
        return desk.show(request, me, "search.html", q=q, found=found, more=more, problem=refused)

    @router.get("/desk/static/{name}")
    async def static(name: str) -> Response:
        return static_file(name)

    return router


async def _commands(body: dict[str, Any], me: Me, ticket_id: str) -> list[TicketCommand]:
    return [ticket_command(body, me.person.id, ticket_id, new_command_id())]


def _sent_ids(sent: str) -> list[str]:
    ids = [one for one in sent.split(",") if is_identifier(one)]
    return ids[:SENT_SHOWN]


def _ticket_path(ticket_id: str) -> str:
    return f"/desk/tickets/{quote(ticket_id, safe='')}"

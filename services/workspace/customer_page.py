"""The customer's view of their ticket (contract 8 `GET /t/{token}`): the link notify puts in
their mails (shared/customer_links.py). What it shows: customer_view.py. A plain page in the
ticket's language, without any script, never cached, sent to no other site as a referrer;
404 for a token this deployment did not sign or a ticket the record does not hold."""

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from kefu.services.workspace.customer_view import expected_answer, public_entries
from kefu.services.workspace.desk_pages import whole_conversation
from kefu.services.workspace.page_kit import CUSTOMER_HEADERS, Pages
from kefu.services.workspace.page_texts import accepted_locale, page_locale, text
from kefu.services.workspace.record_store import RecordStore
from kefu.services.workspace.store import WorkspaceStore
from kefu.shared.customer_links import ticket_of_link_token
from kefu.shared.events.base import utc_now
from kefu.shared.policy import load_policy
from kefu.shared.settings import Settings


def customer_page(settings: Settings, record: RecordStore, people: WorkspaceStore) -> APIRouter:
    pages = Pages(load_policy(settings.config).notify.zone())
    router = APIRouter(include_in_schema=False)

    @router.get("/t/{token}")
    async def customer_view(request: Request, token: str) -> HTMLResponse:
        now, ticket_id = utc_now(), ticket_of_link_token(settings, token)
        ticket = await record.summary(ticket_id) if ticket_id else None
        if ticket is None:
            lang = accepted_locale(request.headers.get("accept-language"))
            title, detail = text(lang, "404.title"), text(lang, "404.detail")
            return pages.page(
                "problem.html",
                lang,
                now,
                404,
                CUSTOMER_HEADERS,
                title=title,
                detail=detail,
                customer=True,
            )
        entries = public_entries(await whole_conversation(record, people, ticket))
        return pages.page(
            "customer.html",
            page_locale(ticket.locale),
            now,
            headers=CUSTOMER_HEADERS,
            ticket=ticket,
            entries=entries,
            expected=expected_answer(ticket, now),
        )

    return router

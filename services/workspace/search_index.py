"""Ticket search (contract 8) on the store itself: `workspace_terms`, one document per
(term, ticket), `_id` = `<term>|<ticket_id>`, with the indexed scalar `term` and `at` (epoch
milliseconds of the latest entry of the ticket holding the term) in one compound index, and
`entry_id` (that entry, for the snippet). Terms come from search.py.

Writing: the record calls `add` with each batch's new entries; customer messages, replies
and notes give their text's terms, the ticket's subject (from the record's summary) its own.
One unordered `bulk_write` of upserts on `_id` (`$max` on `at`) a batch: a replayed entry
changes nothing.

Searching: for each query term, an indexed read of its newest CANDIDATES documents; the term
with the fewest is the rarest, and its tickets are the candidates. Each other term is checked
with one `$in` on `_id` (`<term>|<candidate>`), so the work is bounded whatever the data:
at most (terms x CANDIDATES) documents read. Newest first means by the latest entry holding
the rarest term. When that term has more than CANDIDATES tickets, a page covers the newest
CANDIDATES of them and its cursor goes on from there: a page may then hold fewer than
`limit` tickets (none, even) and still have a `next_cursor`.

`TicketSearch` is the seam for a production engine: an OpenSearch index (its `cjk`
analyser does what search.py does) or Atlas Search can implement `add` and `search`.
"""

from datetime import UTC, datetime
from typing import Any, Protocol

from pydantic import BaseModel
from pymongo import ASCENDING, DESCENDING, IndexModel, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from kefu.services.workspace.entries import Entry
from kefu.services.workspace.paging import BadCursor, cursor_of, position_of
from kefu.services.workspace.record import TicketSummary
from kefu.services.workspace.record_store import ENTRIES, TICKETS
from kefu.services.workspace.search import snippet, terms
from kefu.shared.store import Document

TERMS = "workspace_terms"
CANDIDATES = 500
MOST_QUERY_TERMS = 16
INDEXED = ("message", "reply", "note")


class QueryRefused(ValueError):
    """A query this search does not run; `args[0]` says why."""


class Found(BaseModel):
    ticket_id: str
    subject: str | None
    status: str | None
    at: datetime
    snippet: str


class SearchPage(BaseModel):
    tickets: list[Found]
    next_cursor: str | None


class TicketSearch(Protocol):
    async def add(self, entries: list[Entry]) -> None:
        """Make the entries' tickets findable by their words (idempotent)."""

    async def search(self, q: str, limit: int, cursor: str | None) -> SearchPage:
        """Tickets holding every word of `q`, newest first; QueryRefused, BadCursor."""


class TermIndex:
    """`TicketSearch` on the store; reads the record's summaries and entries by `_id` for
    subjects, statuses and snippets."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.terms = db[TERMS]
        self.tickets, self.entries = db[TICKETS], db[ENTRIES]

    @staticmethod
    def indexes() -> dict[str, list[IndexModel]]:
        return {TERMS: [IndexModel([("term", ASCENDING), ("at", DESCENDING)])]}

    async def add(self, entries: list[Entry]) -> None:
        latest: dict[str, tuple[int, str, str, str]] = {}  # _id: at, term, ticket, entry

        def seen(text: str, ticket_id: str, at: int, entry_id: str) -> None:
            for term in terms(text):
                key = f"{term}|{ticket_id}"
                if key not in latest or latest[key][0] < at:
                    latest[key] = (at, term, ticket_id, entry_id)

        indexed = [entry for entry in entries if entry.kind in INDEXED]
        for entry in indexed:
            seen(entry.text, entry.ticket_id, _ms(entry.at), entry.id)
        subjects = await self._summaries({e.ticket_id for e in indexed if e.kind == "message"})
        for entry in indexed:
            if summary := subjects.get(entry.ticket_id):
                seen(summary.subject or "", entry.ticket_id, _ms(entry.at), "")
        if latest:
            await self.terms.bulk_write(
                [
                    UpdateOne(
                        {"_id": key},
                        {
                            "$max": {"at": at},
                            "$set": {"term": term, "ticket_id": ticket_id, "entry_id": entry_id},
                        },
                        upsert=True,
                    )
                    for key, (at, term, ticket_id, entry_id) in latest.items()
                ],
                ordered=False,
            )

    async def search(self, q: str, limit: int, cursor: str | None) -> SearchPage:
        wanted = terms(q, MOST_QUERY_TERMS + 1)
        if len(wanted) > MOST_QUERY_TERMS:
            raise QueryRefused(f"q has more than {MOST_QUERY_TERMS} words")
        if not wanted:
            return SearchPage(tickets=[], next_cursor=None)
        if cursor:
            rarest, at, ticket_id = position_of(cursor, str, int, str)
            if rarest not in wanted:
                raise BadCursor("cursor is not one this API gave for this q")
            window = await self._newest(str(rarest), (int(at), str(ticket_id)))
        else:
            rarest, window = min(
                [(term, await self._newest(term, None)) for term in wanted],
                key=lambda probed: len(probed[1]),
            )
        full = len(window) > CANDIDATES
        window = window[:CANDIDATES]
        matching = await self._holding([t for t in wanted if t != rarest], window)
        page = matching[:limit]
        last = page[-1] if len(matching) > limit else (window[-1] if full else None)
        return SearchPage(
            tickets=await self._found(page, wanted),
            next_cursor=cursor_of(str(rarest), last["at"], last["ticket_id"]) if last else None,
        )

    async def _newest(self, term: str, after: tuple[int, str] | None) -> list[Document]:
        """The term's newest documents (after a cursor's position), newest first."""
        query: dict[str, Any] = {"term": term}
        if after is not None:
            query["at"] = {"$lte": after[0]}
        found = self.terms.find(query, {"ticket_id": 1, "at": 1, "entry_id": 1})
        rows = await found.sort("at", DESCENDING).limit(CANDIDATES + 2).to_list()
        rows.sort(key=lambda row: (row["at"], row["ticket_id"]), reverse=True)
        if after is not None:
            rows = [row for row in rows if (row["at"], row["ticket_id"]) < after]
        return rows[: CANDIDATES + 1]

    async def _holding(self, others: list[str], window: list[Document]) -> list[Document]:
        """The window's documents whose ticket holds every other term too."""
        for term in others:
            if not window:
                break
            ids = [f"{term}|{row['ticket_id']}" for row in window]
            found = self.terms.find({"_id": {"$in": ids}}, {"ticket_id": 1})
            holding = {row["ticket_id"] async for row in found}
            window = [row for row in window if row["ticket_id"] in holding]
        return window

    async def _found(self, page: list[Document], wanted: list[str]) -> list[Found]:
        summaries = await self._summaries({row["ticket_id"] for row in page})
        entry_ids = [row["entry_id"] for row in page if row.get("entry_id")]
        found = self.entries.find({"_id": {"$in": entry_ids}}, {"text": 1})
        texts = {entry["_id"]: entry.get("text", "") async for entry in found}
        shown = []
        for row in page:
            summary = summaries.get(row["ticket_id"])
            subject = summary.subject if summary else None
            text = texts.get(row.get("entry_id")) or subject or ""
            shown.append(
                Found(
                    ticket_id=row["ticket_id"],
                    subject=subject,
                    status=summary.status if summary else None,
                    at=datetime.fromtimestamp(row["at"] / 1000, UTC),
                    snippet=snippet(text, wanted),
                )
            )
        return shown

    async def _summaries(self, ticket_ids: set[str]) -> dict[str, TicketSummary]:
        if not ticket_ids:
            return {}
        found = self.tickets.find({"_id": {"$in": sorted(ticket_ids)}}, {"state": 1})
        return {
            row["_id"]: TicketSummary.model_validate(row["state"])
            async for row in found
            if row.get("state")
        }


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)

"""Ticket search (contract 8) on the store itself, in day buckets (search_buckets.py), read
only by `_id` and by equality on one indexed field. Terms come from search.py.

- `workspace_postings`: a term's tickets on a UTC day, `bucket` = `<term>|<day>` (indexed),
  `p` = `[ticket_id, at, entry_id]` postings (`at` epoch milliseconds of the ticket's latest
  entry holding the term that day; `entry_id` that entry, for the snippet, `""` for the
  subject). One document a bucket a batch, `_id` `<bucket>|<digest of its postings>`.
- `workspace_term_days`: a term's directory, `_id` the term, `days` that hold it and `n` its
  postings (an estimate: a batch told twice counts twice) to find the rarest query term.
- `workspace_ticket_terms`: a ticket's terms by day, `_id` the ticket, `t` lines
  `<day> <term> <term> …`, to check the query's other terms and the ticket's later days.

Writing: the record calls `add` with each batch's new entries; customer messages, replies
and notes give their text's terms, the ticket's subject (from the record's summary) its own
with each message. One unordered `insert_many` of the postings (duplicates ignored: a batch
told twice writes the same documents), then one unordered `bulk_write` each of upserts with
`$addToSet` for the directories (one a term) and the tickets' lines (one a ticket): a few
hundred writes a batch of thousands of entries, whatever the number of (term, ticket) pairs.
(On nx-27017 a document written costs about 0.1 ms whatever its size: one a (term, day,
ticket) would be 24,000 for a burst of 2,000 twelve-word messages; postings, a dozen a
batch, and a line a ticket.) Postings first, the lines last: a reader may meet a ticket
whose lines are not there yet, and then keeps it for a one-word query only.

Searching: the directories of the query's terms (one `$in` on `_id`); a term none holds
answers nothing. The term with the fewest postings drives: its days newest first, each
bucket read by equality, merged and sorted in Python (a ticket once, by its latest entry
holding the term), then the candidates' lines read by `_id` in chunks when there is a
later day or another term to check. A ticket is shown once, at its newest day holding the
driving term: newest first means by the latest entry holding that term. The work is bounded:
at most CANDIDATES tickets checked and MOST_BUCKETS buckets read a request; past that, a page
may hold fewer than `limit` tickets (none, even) and still have a `next_cursor`.

`TicketSearch` is the seam for a production engine: an OpenSearch index (its `cjk`
analyser does what search.py does) or Atlas Search can implement `add` and `search`.
"""

from datetime import UTC, datetime
from typing import Protocol

from pydantic import BaseModel
from pymongo import IndexModel, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from kefu.services.workspace.entries import Entry
from kefu.services.workspace.record import TicketSummary
from kefu.services.workspace.record_store import ENTRIES, TICKETS
from kefu.services.workspace.search import snippet, terms
from kefu.services.workspace.search_buckets import (
    LATEST,
    Hit,
    Noted,
    Position,
    bucket_of,
    cursor_at,
    day_of,
    directory_of,
    held_of,
    kept,
    lines_of,
    merged,
    ms_of,
    note,
    position_at,
    postings_of,
)
from kefu.shared.store import Document, by_ids, insert_all

POSTINGS = "workspace_postings"
TERM_DAYS = "workspace_term_days"
TICKET_TERMS = "workspace_ticket_terms"
CANDIDATES = 500  # tickets checked a request
MOST_BUCKETS = 64  # buckets read a request
FIRST_CHUNK, LARGEST_CHUNK = 32, 256  # tickets whose lines one read checks
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
        self.postings, self.term_days = db[POSTINGS], db[TERM_DAYS]
        self.ticket_terms = db[TICKET_TERMS]
        self.tickets, self.entries = db[TICKETS], db[ENTRIES]

    @staticmethod
    def indexes() -> dict[str, list[IndexModel]]:
        return {POSTINGS: [IndexModel("bucket")]}

    async def add(self, entries: list[Entry]) -> None:
        found: Noted = {}

        def seen(text: str, ticket_id: str, at: datetime, entry_id: str) -> None:
            day, ms = day_of(at), ms_of(at)
            for term in terms(text):
                note(found, term, day, ticket_id, ms, entry_id)

        indexed = [entry for entry in entries if entry.kind in INDEXED]
        for entry in indexed:
            seen(entry.text, entry.ticket_id, entry.at, entry.id)
        subjects = await self._summaries({e.ticket_id for e in indexed if e.kind == "message"})
        for entry in indexed:
            if summary := subjects.get(entry.ticket_id):
                seen(summary.subject or "", entry.ticket_id, entry.at, "")
        if not found:
            return
        await insert_all(self.postings, postings_of(found))
        directory = [
            UpdateOne(
                {"_id": term},
                {"$addToSet": {"days": {"$each": days}}, "$inc": {"n": count}},
                upsert=True,
            )
            for term, (days, count) in directory_of(found).items()
        ]
        await self.term_days.bulk_write(directory, ordered=False)
        lines = [
            UpdateOne({"_id": ticket_id}, {"$addToSet": {"t": {"$each": held}}}, upsert=True)
            for ticket_id, held in lines_of(found).items()
        ]
        await self.ticket_terms.bulk_write(lines, ordered=False)

    async def search(self, q: str, limit: int, cursor: str | None) -> SearchPage:
        wanted = terms(q, MOST_QUERY_TERMS + 1)
        if len(wanted) > MOST_QUERY_TERMS:
            raise QueryRefused(f"q has more than {MOST_QUERY_TERMS} words")
        if not wanted:
            return SearchPage(tickets=[], next_cursor=None)
        start = position_at(cursor, wanted) if cursor else None
        found = self.term_days.find({"_id": {"$in": wanted}}, {"days": 1, "n": 1})
        directory = {row["_id"]: row async for row in found}
        if len(directory) < len(wanted):
            return SearchPage(tickets=[], next_cursor=None)
        driver = start.term if start else min(wanted, key=lambda t: (directory[t].get("n", 0), t))
        hits, resume = await self._page(
            driver, wanted, directory[driver].get("days", []), start, limit
        )
        return SearchPage(
            tickets=await self._found(hits, wanted),
            next_cursor=cursor_at(resume) if resume else None,
        )

    async def _page(
        self, driver: str, wanted: list[str], days: list[str], start: Position | None, limit: int
    ) -> tuple[list[Hit], Position | None]:
        """Up to `limit` tickets after `start`, and where the next page starts (None: no
        more). Buckets newest day first; within one, newest first."""
        others = [term for term in wanted if term != driver]
        newest = max(days, default="")
        days = sorted((day for day in days if not start or day <= start.day), reverse=True)
        shown: list[tuple[str, Hit]] = []
        seen: set[str] = set()  # each ticket once, even before its lines are written
        checked, chunk = 0, FIRST_CHUNK
        for read, day in enumerate(days):
            if checked >= CANDIDATES or read >= MOST_BUCKETS:
                return [hit for _, hit in shown], Position(driver, day, LATEST, "")
            rows = self.postings.find({"bucket": bucket_of(driver, day)}, {"p": 1})
            bucket = merged(await rows.to_list())
            if start and day == start.day:
                bucket = [hit for hit in bucket if start.precedes(hit)]
            check = bool(others) or day < newest  # another term, or a later day to rule out
            at = 0
            while at < len(bucket):
                wanting = limit + 1 - len(shown)
                size = min(max(chunk, 2 * wanting), CANDIDATES - checked) if check else wanting
                candidates = bucket[at : at + size]
                at += len(candidates)
                if check:
                    checked += len(candidates)
                    chunk = min(2 * chunk, LARGEST_CHUNK)
                    held = await self._held([hit.ticket_id for hit in candidates])
                    candidates = [
                        hit
                        for hit in candidates
                        if kept(held.get(hit.ticket_id), day, driver, others)
                    ]
                fresh = [hit for hit in candidates if hit.ticket_id not in seen]
                seen.update(hit.ticket_id for hit in fresh)
                shown.extend((day, hit) for hit in fresh)
                if len(shown) > limit:
                    last_day, last = shown[limit - 1]
                    page = [hit for _, hit in shown[:limit]]
                    return page, Position(driver, last_day, last.at, last.ticket_id)
                if checked >= CANDIDATES and at < len(bucket):
                    last = bucket[at - 1]
                    page = [hit for _, hit in shown]
                    return page, Position(driver, day, last.at, last.ticket_id)
        return [hit for _, hit in shown], None

    async def _held(self, ticket_ids: list[str]) -> dict[str, dict[str, set[str]]]:
        found = await by_ids(self.ticket_terms, ticket_ids, {"t": 1})
        return {ticket_id: held_of(row.get("t", [])) for ticket_id, row in found.items()}

    async def _found(self, page: list[Hit], wanted: list[str]) -> list[Found]:
        summaries = await self._summaries({hit.ticket_id for hit in page})
        texts = await self._texts([hit.entry_id for hit in page if hit.entry_id])
        shown = []
        for hit in page:
            summary = summaries.get(hit.ticket_id)
            subject = summary.subject if summary else None
            text = texts.get(hit.entry_id) or subject or ""
            shown.append(
                Found(
                    ticket_id=hit.ticket_id,
                    subject=subject,
                    status=summary.status if summary else None,
                    at=datetime.fromtimestamp(hit.at / 1000, UTC),
                    snippet=snippet(text, wanted),
                )
            )
        return shown

    async def _texts(self, entry_ids: list[str]) -> dict[str, str]:
        found = await by_ids(self.entries, entry_ids, {"text": 1})
        return {entry_id: entry.get("text", "") for entry_id, entry in found.items()}

    async def _summaries(self, ticket_ids: set[str]) -> dict[str, TicketSummary]:
        if not ticket_ids:
            return {}
        found = self.tickets.find({"_id": {"$in": sorted(ticket_ids)}}, {"state": 1})
        return {
            row["_id"]: TicketSummary.model_validate(row["state"])
            async for row in found
            if row.get("state")
        }

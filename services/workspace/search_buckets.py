"""The search index's keys and merges (search_index.py): what a batch of entries writes, how
a day's bucket reads back, which tickets a page keeps, and the page cursor. Pure.

- A bucket is one term on one UTC day: `<term>|<YYYY-MM-DD>`. Each batch writes one postings
  document a bucket it touches, listing `[ticket_id, at, entry_id]` for each ticket holding
  the term that day in the batch (`at` epoch milliseconds of its latest entry holding it).
  Its `_id` is the bucket and a digest of the postings, so a batch told twice writes the
  same documents again (duplicates, ignored).
- A bucket reads back as its tickets, each once (its latest entry holding the term), newest
  first by (at, ticket_id).
- A ticket's lines (`<day> <term> <term> …`, one a day a batch) say which terms it held on
  which day: a page keeps a ticket from the driving term's bucket for `day` when it holds
  every other term (on any day) and does not hold the driving term on a later day (it is
  shown there: each ticket once, at its newest activity).
"""

import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, NamedTuple

from kefu.services.workspace.paging import BadCursor, cursor_of, position_of

LATEST = 2**63 - 1  # an `at` after every entry: a position before a whole day
DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

Noted = dict[tuple[str, str, str], tuple[int, str]]  # (term, day, ticket): (at, entry_id)


class Hit(NamedTuple):
    ticket_id: str
    at: int
    entry_id: str


class Position(NamedTuple):
    """Where a page ends: the driving term, a day, and (at, ticket_id) in its bucket."""

    term: str
    day: str
    at: int
    ticket_id: str

    def precedes(self, hit: Hit) -> bool:
        """Whether `hit` (in this position's day) comes after it, newest first."""
        return (hit.at, hit.ticket_id) < (self.at, self.ticket_id)


def day_of(at: datetime) -> str:
    """The UTC day of `at` (a naive time is taken as UTC)."""
    aware = at if at.tzinfo else at.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%d")


def ms_of(at: datetime) -> int:
    aware = at if at.tzinfo else at.replace(tzinfo=UTC)
    return int(aware.timestamp() * 1000)


def bucket_of(term: str, day: str) -> str:
    return f"{term}|{day}"


def note(found: Noted, term: str, day: str, ticket_id: str, at: int, entry_id: str) -> None:
    """Keep the latest entry holding `term` on `day` for the ticket (the first told of equal
    times: an entry's own text before the subject added with it)."""
    key = (term, day, ticket_id)
    if key not in found or found[key][0] < at:
        found[key] = (at, entry_id)


def postings_of(found: Noted) -> list[dict[str, Any]]:
    """One postings document a bucket, its `_id` the bucket and a digest of its postings."""
    buckets: dict[str, list[list[Any]]] = defaultdict(list)
    for (term, day, ticket_id), (at, entry_id) in sorted(found.items()):
        buckets[bucket_of(term, day)].append([ticket_id, at, entry_id])
    documents = []
    for bucket, postings in buckets.items():
        text = json.dumps([bucket, postings], ensure_ascii=False, separators=(",", ":"))
        digest = hashlib.blake2b(text.encode(), digest_size=12).hexdigest()
        documents.append({"_id": f"{bucket}|{digest}", "bucket": bucket, "p": postings})
    return documents


def directory_of(found: Noted) -> dict[str, tuple[list[str], int]]:
    """Each term's days in the batch and how many (day, ticket) postings it has there."""
    days: dict[str, set[str]] = defaultdict(set)
    counts: dict[str, int] = defaultdict(int)
    for term, day, _ in found:
        days[term].add(day)
        counts[term] += 1
    return {term: (sorted(days[term]), counts[term]) for term in days}


def lines_of(found: Noted) -> dict[str, list[str]]:
    """Each ticket's lines, `<day> <term> <term> …` (terms hold no spaces), a day each."""
    held: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for term, day, ticket_id in found:
        held[ticket_id][day].add(term)
    return {
        ticket_id: [f"{day} {' '.join(sorted(terms))}" for day, terms in sorted(days.items())]
        for ticket_id, days in held.items()
    }


def held_of(lines: Iterable[str]) -> dict[str, set[str]]:
    """A ticket's lines back as the terms it held each day."""
    held: dict[str, set[str]] = defaultdict(set)
    for line in lines:
        day, *terms = line.split(" ")
        held[day].update(terms)
    return held


def merged(documents: Iterable[dict[str, Any]]) -> list[Hit]:
    """A bucket's postings documents as its tickets, each once (its latest entry, one with
    an entry before the subject's at equal times), newest first by (at, ticket_id)."""
    latest: dict[str, Hit] = {}
    for document in documents:
        for ticket_id, at, entry_id in document.get("p", []):
            hit = Hit(ticket_id, at, entry_id)
            known = latest.get(ticket_id)
            if known is None or (at, bool(entry_id)) > (known.at, bool(known.entry_id)):
                latest[ticket_id] = hit
    return sorted(latest.values(), key=lambda hit: (hit.at, hit.ticket_id), reverse=True)


def kept(held: dict[str, set[str]] | None, day: str, driver: str, others: list[str]) -> bool:
    """Whether a ticket found in `driver`'s bucket for `day` belongs on the page: it holds
    every other term, and not `driver` on a later day. Without its lines (not written yet),
    only a one-term query keeps it."""
    if held is None:
        return not others
    if any(later > day and driver in terms for later, terms in held.items()):
        return False
    return all(any(other in terms for terms in held.values()) for other in others)


def cursor_at(position: Position) -> str:
    return cursor_of(*position)


def position_at(cursor: str, wanted: list[str]) -> Position:
    """The position of a cursor this search gave for a query of the `wanted` terms."""
    term, day, at, ticket_id = position_of(cursor, str, str, int, str)
    if term not in wanted or not DAY.fullmatch(str(day)):
        raise BadCursor("cursor is not one this API gave for this q")
    return Position(str(term), str(day), int(at), str(ticket_id))

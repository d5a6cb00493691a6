"""The search index (services/workspace/search_index.py) on the real store: day buckets read
newest day first, each ticket once at its newest day holding the term, AND over the
ticket's whole history, entries told twice, and the bound on a request's work."""

from datetime import UTC, datetime, timedelta

import pytest

from kefu.services.workspace import search_index
from kefu.services.workspace.entries import Author, Entry
from kefu.services.workspace.search_index import TermIndex
from kefu.shared.store import connect, database, ensure_indexes, insert_all

DAY1 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
DAY2, DAY3 = DAY1 + timedelta(days=1), DAY1 + timedelta(days=2)


@pytest.fixture
async def index(settings):
    client = connect(settings)
    db = database(client, settings)
    await ensure_indexes(db, TermIndex.indexes())
    yield TermIndex(db)
    await client.drop_database(settings.mongodb_db)
    await client.close()


def said(ticket: str, text: str, at: datetime, kind: str = "message") -> Entry:
    author = Author(type="customer" if kind == "message" else "agent")
    return Entry(
        id=f"{ticket}@{at.isoformat()}-{kind}",
        ticket_id=ticket,
        kind=kind,  # type: ignore[arg-type]
        public=kind != "note",
        author=author,
        text=text,
        at=at,
    )


async def tell(index: TermIndex, entries: list[Entry]) -> None:
    """As the record does: the index first, then the entries (for the snippets)."""
    await index.add(entries)
    await insert_all(
        index.entries, [{"_id": e.id, **e.model_dump(exclude={"id"})} for e in entries]
    )


async def pages(index: TermIndex, q: str, limit: int) -> list[list[str]]:
    shown, cursor = [], None
    for _ in range(20):
        page = await index.search(q, limit, cursor)
        shown.append([found.ticket_id for found in page.tickets])
        if (cursor := page.next_cursor) is None:
            return shown
    raise AssertionError(f"no end after 20 pages: {shown}")


async def test_each_ticket_once_at_its_newest_day_newest_first(index: TermIndex) -> None:
    await tell(
        index,
        [
            said("T-1", "refund please", DAY1),
            said("T-2", "Refund!", DAY1 + timedelta(hours=1)),
            said("T-3", "a refund", DAY2),
            said("T-4", "hello", DAY2 + timedelta(hours=2)),
        ],
    )
    await tell(
        index,  # a later batch: T-1 again on day 3, T-2 on day 2 without the word
        [
            said("T-1", "still no refund", DAY3, kind="reply"),
            said("T-2", "thanks", DAY2 + timedelta(hours=3), kind="note"),
        ],
    )
    assert await pages(index, "refund", 20) == [["T-1", "T-3", "T-2"]]
    assert await pages(index, "refund", 1) == [["T-1"], ["T-3"], ["T-2"]]
    assert await pages(index, "refund", 2) == [["T-1", "T-3"], ["T-2"]]
    [newest] = (await index.search("refund", 1, None)).tickets
    assert newest.at == DAY3 and newest.snippet == "still no refund"


async def test_all_words_over_the_tickets_whole_history(index: TermIndex) -> None:
    await tell(
        index,
        [
            said("T-1", "invoice wrong", DAY1),
            said("T-2", "invoice and password", DAY2),
            said("T-3", "password reset", DAY1),
        ],
    )
    await tell(
        index, [said("T-1", "my password", DAY3, kind="reply"), said("T-9", "invoice", DAY3)]
    )
    # as rare as each other: `invoice` drives (the first by name), so newest first is by the
    # latest entry holding it: T-2 (day 2) before T-1 (day 1), whatever the words' order
    assert await pages(index, "invoice password", 20) == [["T-2", "T-1"]]
    assert await pages(index, "password invoice", 1) == [["T-2"], ["T-1"]]
    assert await pages(index, "password", 20) == [["T-1", "T-2", "T-3"]]
    assert await pages(index, "invoice nowhere", 20) == [[]]


async def test_entries_told_twice_change_nothing(index: TermIndex) -> None:
    batch = [
        said("T-1", "退款 refund", DAY1),
        said("T-2", "我想申请退款", DAY1 + timedelta(hours=1)),
    ]
    await tell(index, batch)
    stored = await index.postings.count_documents({})
    await tell(index, batch)
    assert await index.postings.count_documents({}) == stored
    await tell(index, batch[1:])  # T-2 alone: the bucket 退款 gets a document of its own
    assert await index.postings.count_documents({}) == stored + 1
    assert await pages(index, "退款", 20) == [["T-2", "T-1"]]
    lines = await index.ticket_terms.find_one({"_id": "T-1"})
    assert lines == {"_id": "T-1", "t": ["2026-11-20 refund 退款"]}


async def test_a_request_checks_a_bounded_number_of_tickets(index: TermIndex, monkeypatch) -> None:
    monkeypatch.setattr(search_index, "CANDIDATES", 4)
    common = [said(f"T-{n:02}", "common word", DAY1 + timedelta(minutes=n)) for n in range(10)]
    await tell(index, [*common, said("T-00", "rare", DAY2), said("X", "rare", DAY3)])
    newest_first = [f"T-{n:02}" for n in range(9, -1, -1)]
    # `rare` drives (2 postings) and only its tickets are checked for `common`
    assert await pages(index, "common rare", 20) == [["T-00"]]
    # as common as each other: `common` drives, 4 tickets checked a request
    shown = await pages(index, "common word", 3)
    assert shown == [newest_first[:3], newest_first[3:6], newest_first[6:9], newest_first[9:]]
    await tell(index, [said(f"Y-{n:02}", "other", DAY3) for n in range(10)])
    assert await pages(index, "common other", 20) == [[], [], []]  # 4, 4 and 2 checked

"""The search index's day buckets (services/workspace/search_buckets.py): keys, what a batch
writes, how a bucket reads back, which tickets a page keeps, and the cursor."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from kefu.services.workspace.paging import BadCursor, cursor_of
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

AT = datetime(2026, 11, 23, 23, 30, tzinfo=UTC)


def test_a_bucket_is_a_term_on_a_utc_day() -> None:
    assert day_of(AT) == "2026-11-23"
    assert day_of(AT + timedelta(hours=1)) == "2026-11-24"
    beijing = AT.astimezone(timezone(timedelta(hours=8)))  # 07:30 on the 24th there
    assert day_of(beijing) == "2026-11-23"
    assert day_of(AT.replace(tzinfo=None)) == "2026-11-23"  # naive is UTC
    assert ms_of(beijing) == ms_of(AT) == int(AT.timestamp() * 1000)
    assert bucket_of("退款", "2026-11-23") == "退款|2026-11-23"


def test_a_batch_keeps_each_tickets_latest_entry_a_term_and_day() -> None:
    found: Noted = {}
    note(found, "refund", "2026-11-23", "T-1", 5, "e-5")
    note(found, "refund", "2026-11-23", "T-1", 3, "e-3")  # older: kept out
    note(found, "refund", "2026-11-23", "T-1", 5, "")  # the subject, told after its entry
    note(found, "refund", "2026-11-23", "T-1", 7, "")  # a later message's subject
    note(found, "refund", "2026-11-24", "T-1", 9, "e-9")
    assert found == {
        ("refund", "2026-11-23", "T-1"): (7, ""),
        ("refund", "2026-11-24", "T-1"): (9, "e-9"),
    }


def batch() -> Noted:
    found: Noted = {}
    note(found, "refund", "2026-11-23", "T-2", 20, "e-20")
    note(found, "refund", "2026-11-23", "T-1", 10, "e-10")
    note(found, "invoice", "2026-11-23", "T-1", 10, "e-10")
    note(found, "refund", "2026-11-24", "T-1", 30, "e-30")
    return found


def test_a_batch_writes_one_postings_document_a_bucket_the_same_when_told_twice() -> None:
    documents = postings_of(batch())
    assert [(d["bucket"], d["p"]) for d in documents] == [
        ("invoice|2026-11-23", [["T-1", 10, "e-10"]]),
        ("refund|2026-11-23", [["T-1", 10, "e-10"], ["T-2", 20, "e-20"]]),
        ("refund|2026-11-24", [["T-1", 30, "e-30"]]),
    ]
    assert all(d["_id"].startswith(f"{d['bucket']}|") for d in documents)
    assert [d["_id"] for d in postings_of(batch())] == [d["_id"] for d in documents]
    other = batch()
    note(other, "refund", "2026-11-23", "T-3", 40, "e-40")
    assert postings_of(other)[1]["_id"] != documents[1]["_id"]  # other postings, other id
    assert postings_of(other)[0]["_id"] == documents[0]["_id"]


def test_a_batch_gives_each_terms_days_and_each_tickets_lines() -> None:
    assert directory_of(batch()) == {
        "refund": (["2026-11-23", "2026-11-24"], 3),
        "invoice": (["2026-11-23"], 1),
    }
    lines = lines_of(batch())
    assert lines == {
        "T-1": ["2026-11-23 invoice refund", "2026-11-24 refund"],
        "T-2": ["2026-11-23 refund"],
    }
    assert held_of([*lines["T-1"], "2026-11-23 退款"]) == {
        "2026-11-23": {"invoice", "refund", "退款"},
        "2026-11-24": {"refund"},
    }


def test_a_bucket_reads_back_each_ticket_once_newest_first() -> None:
    documents = [
        {"p": [["T-1", 10, "e-10"], ["T-2", 20, ""]]},
        {"p": [["T-1", 30, "e-30"], ["T-2", 20, "e-20"], ["T-3", 30, "e-31"]]},
        {"_id": "no postings"},
    ]
    assert merged(documents) == [
        Hit("T-3", 30, "e-31"),
        Hit("T-1", 30, "e-30"),  # its latest entry; at equal times, by ticket_id
        Hit("T-2", 20, "e-20"),  # an entry's text before the subject at the same time
    ]
    assert merged([]) == []


def test_a_page_keeps_a_ticket_at_its_newest_day_holding_every_term() -> None:
    held = held_of(["2026-11-23 invoice refund", "2026-11-25 refund", "2026-11-26 hello"])
    assert not kept(held, "2026-11-23", "refund", [])  # shown on the 25th
    assert kept(held, "2026-11-25", "refund", [])  # a later day without the term
    assert kept(held, "2026-11-25", "refund", ["invoice", "hello"])  # others on any day
    assert not kept(held, "2026-11-25", "refund", ["password"])
    assert kept(held, "2026-11-23", "invoice", ["refund"])  # invoice's newest day
    assert kept(None, "2026-11-23", "refund", [])  # lines not written yet: one term only
    assert not kept(None, "2026-11-23", "refund", ["invoice"])


def test_a_cursor_says_the_term_the_day_and_the_place_in_its_bucket() -> None:
    position = Position("退款", "2026-11-23", 1764000000000, "T-1")
    assert position_at(cursor_at(position), ["退款", "refund"]) == position
    assert position.precedes(Hit("T-0", 1764000000000, ""))  # same time, lower id: after
    assert position.precedes(Hit("T-9", 1763999999999, ""))
    assert not position.precedes(Hit("T-1", 1764000000000, ""))
    assert not position.precedes(Hit("T-0", 1764000000001, ""))
    assert Position("退款", "2026-11-23", LATEST, "").precedes(Hit("T-9", 2**62, "e"))


@pytest.mark.parametrize(
    "cursor",
    [
        cursor_of("other", "2026-11-23", 1, "T-1"),  # not a term of this q
        cursor_of("退款", "yesterday", 1, "T-1"),
        cursor_of("退款", 1, "T-1"),  # the earlier shape: term, at, ticket
        cursor_of("退款", "2026-11-23", "1", "T-1"),
        "not-a-cursor",
    ],
)
def test_a_cursor_for_another_query_or_of_another_shape_is_bad(cursor: str) -> None:
    with pytest.raises(BadCursor):
        position_at(cursor, ["退款"])

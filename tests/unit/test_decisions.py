"""The decision unit's slot: idempotence, the outbox and what a document holds."""

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import BaseModel

from kefu.shared.decisions import APPLIED_SIZE, Slot, absent_is_none, drop_oldest
from kefu.shared.events import new_event
from kefu.shared.events.ticket import Reopened
from tests.factories import held

AT = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


class Count(BaseModel):
    n: int


def reopened(event_id: str):
    data = Reopened(ticket_id="1001", by="customer", at=AT)
    return new_event(data, id=event_id, source="kefu/t", correlationid="c", time=AT)


def test_a_recorded_input_is_applied_and_its_events_held_until_published() -> None:
    slot: Slot[Count] = Slot("k")
    slot.record("in-1", Count(n=1), [reopened("e-1")])
    assert slot.has_applied("in-1") and not slot.has_applied("in-2")
    assert [e.id for e in held(slot, "in-1")] == ["e-1"]
    assert [e.id for e in slot.unpublished()] == ["e-1"]
    slot.version, slot.published = 1, 1
    assert slot.unpublished() == []


def test_events_read_back_from_a_document_are_the_same_bytes() -> None:
    slot: Slot[Count] = Slot("k")
    event = reopened("e-1")
    slot.record("in-1", Count(n=1), [event])
    document = slot.document(writer="w")
    stored = Slot("k", Count(n=1), version=1, outbox=[], applied=document["applied"])
    from kefu.shared.decisions import Held

    stored.outbox = [Held.model_validate(entry) for entry in document["outbox"]]
    assert [e.to_bytes() for e in stored.unpublished()] == [event.to_bytes()]


def test_a_document_carries_state_version_applied_outbox_and_writer() -> None:
    slot: Slot[Count] = Slot("k", Count(n=1), version=3, published=3)
    slot.record("in-9", Count(n=2), [reopened("e-9")])
    document = slot.document(writer="w-1")
    assert document["_id"] == "k" and document["version"] == 4 and document["writer"] == "w-1"
    assert document["state"] == {"n": 2} and document["applied"] == ["in-9"]
    assert [(h["input"], h["version"]) for h in document["outbox"]] == [("in-9", 4)]


def test_published_entries_leave_with_the_next_write_and_unpublished_ones_never() -> None:
    slot: Slot[Count] = Slot("k", Count(n=0))
    for index in range(30):
        slot.record(f"in-{index}", Count(n=index), [reopened(f"e-{index}")])
        slot.version += 1
    assert len(slot.document("w")["outbox"]) == 30  # none published yet
    slot.published = slot.version - 2
    kept = slot.document("w")["outbox"]
    assert [held["input"] for held in kept] == ["in-28", "in-29"]


def test_applied_ids_are_bounded() -> None:
    slot: Slot[Count] = Slot("k")
    for index in range(APPLIED_SIZE + 5):
        slot.record(f"in-{index}", Count(n=index), [])
    assert len(slot.applied) == APPLIED_SIZE and not slot.has_applied("in-0")
    assert slot.outbox == []  # inputs without events hold nothing


def test_an_input_without_an_id_is_not_kept_among_the_applied() -> None:
    slot: Slot[Count] = Slot("k", applied=["in-1"])
    slot.record(None, Count(n=2), [reopened("e-1")])
    slot.record(None, Count(n=3), [reopened("e-2")])
    assert slot.applied == ["in-1"] and not slot.has_applied(None)
    assert [e.id for e in slot.unpublished()] == ["e-1", "e-2"]
    assert len({held.input for held in slot.outbox}) == 2


def test_drop_oldest_leaves_the_newest_entries_in_order() -> None:
    kept = {key: index for index, key in enumerate("abcdef")}
    drop_oldest(kept, 4)
    assert list(kept) == ["c", "d", "e", "f"]
    drop_oldest(kept, 10)
    assert list(kept) == ["c", "d", "e", "f"]


class Reply(BaseModel):
    by: str | None = None
    data: dict[str, Any | None] = {}  # a dict keeps its None values


class Thread(BaseModel):
    replies: list[Reply] = []
    closed_at: datetime | None = None


class Required(BaseModel):
    by: str | None


class Defaulted(BaseModel):
    tier: str | None = "standard"


class Holds(BaseModel):
    inner: list[Required] = []


def test_a_state_whose_none_fields_default_to_none_is_accepted() -> None:
    absent_is_none(Thread)


@pytest.mark.parametrize("model", [Required, Defaulted, Holds])
def test_a_state_that_would_read_an_absent_field_as_something_else_is_refused(model) -> None:
    with pytest.raises(TypeError, match="must default to None"):
        absent_is_none(model)

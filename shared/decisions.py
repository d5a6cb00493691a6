"""The decision unit: one atomic conditional write of one document per key, for a whole batch.

A state document holds one key's state and what makes it idempotent:

    {_id: key, version, state: {...}, applied: [input ids], outbox: [{input, version, events}],
     published: <highest version whose events are surely on the broker>, writer}

For a batch, `DecisionUnit.handle` reads every key's document with one `$in`, lets the
service's pure `decide(state, input, now) -> (state, events)` run input after input (an input
whose id is in `applied` is skipped), writes new documents with one unordered `insert_many`
and changed ones with one `bulk_write` of version-filtered replaces, and decides the losers
again on fresh state. Then it publishes the events of every entry above `published` (a
crashed or beaten writer's too) and waits for the acks; the consumer commits after that.
That the events are published is kept in memory and rides on the document's next write;
what no write carried is marked in the store in the background every MARK_EVERY_S, and at
shutdown (`flush`): a save whose documents' events are all published as one (a batch's, as
usual) by one document of the service's `marks` collection that names the save's number
among its process's published ones (shared/marks.py), whatever the number of documents it
wrote; a document published on its own (a split batch's retry, a document another process
left unpublished) by its own `published`.

Why the pieces are safe:
- An input's events are written in the same document write as the state they produce, so a
  replay after a crash finds them there and publishes exactly those: an event id always
  carries the same data.
- Whoever writes a document publishes every entry above `published` before marking it, so a
  mark never covers events that nobody sent; a save's number is marked only when every one
  of its documents with events has been. The mark kept in memory applies to a document
  only while it is still the version and writer it was kept for; another process (after a
  crash or a rebalance) finds the document unmarked and publishes its last events again,
  with the same ids, which consumers drop.
- Unpublished entries are never trimmed from the outbox; published ones leave it with the
  document's next write (a replay of their input is skipped by `applied`, so nothing reads
  them again), which keeps every write and read of the document small. `applied` is bounded.
- Decisions that span documents (one agent, many tickets) are still one conditional write
  of each contended document.

`settle` is the one loop every service runs, `DecisionUnit` included: a round loads and
decides (a service's own `play`; its decisions are a pure module's), writes one or more
collections in order (a `gate` collection, like the router's agents, must be won before
anything after it is written), and the inputs another writer beat are decided again on fresh
state; then everything written is published and marked.
"""

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from itertools import islice
from typing import Any, Generic, TypeVar, get_args

from pydantic import BaseModel
from pymongo import ReplaceOne, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection

from kefu.shared.consumer import Input, Rejected
from kefu.shared.errors import PoisonMessage
from kefu.shared.events import CloudEvent, decode_event
from kefu.shared.events.base import utc_now
from kefu.shared.logs import get_logger
from kefu.shared.marks import Ranges, save_of, writer_id
from kefu.shared.store import Document, by_ids, insert_all

log = get_logger("kefu.decisions")
S = TypeVar("S", bound=BaseModel)
I = TypeVar("I")  # noqa: E741
T = TypeVar("T")
Events = list[CloudEvent[Any]]
Publish = Callable[..., Awaitable[None]]
APPLIED_SIZE = 200
MARK_EVERY_S = 10.0
MARKS_HELD = 20_000  # marks kept in memory before they are written whatever their age
PENDING_SAVES = 10_000  # saves whose events are awaited, before the oldest is forgotten
# the documents of one write command: the embedded store serves one command at a time, so a
# bigger batch is written in several and the hot path's commands get in between
WRITE_SLICE = 500


def drop_oldest(kept: dict[Any, Any], most: int) -> None:
    """The first inserted entries of `kept` dropped until at most `most` are left, without
    walking the rest (a batch's slots join ten thousand kept)."""
    for key in list(islice(kept, max(0, len(kept) - most))):
        del kept[key]


def sliced(items: list[T], size: int) -> Iterator[list[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def absent_is_none(model: type[BaseModel], seen: frozenset[type] = frozenset()) -> None:
    """State is written without its None fields (the store encodes, copies and decodes each
    value it is given), so a field that may be None must read as None when absent: refused
    at start otherwise, in the model and every model it holds."""
    for name, spec in model.model_fields.items():
        kinds = get_args(spec.annotation) or (spec.annotation,)
        nullable = type(None) in kinds or Any in kinds
        if nullable and (spec.is_required() or spec.default is not None):
            raise TypeError(f"{model.__name__}.{name} may be None: it must default to None")
        for kind in _models_in(spec.annotation):
            if kind not in seen and kind is not model:
                absent_is_none(kind, seen | {model})


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    nested = [kind for arg in get_args(annotation) for kind in _models_in(arg)]
    own = isinstance(annotation, type) and issubclass(annotation, BaseModel)
    return [annotation, *nested] if own else nested


class Held(BaseModel):
    """The events one input produced, kept until they are surely published."""

    input: str
    version: int
    events: list[str]


@dataclass
class Slot(Generic[S]):
    """One key's state document as a batch sees it, with the batch's decisions on top."""

    key: str
    state: S | None = None
    version: int = 0  # 0: not stored yet
    applied: list[str] = field(default_factory=list)
    outbox: list[Held] = field(default_factory=list)
    published: int = 0
    writer: str = ""
    changed: bool = False
    _fresh: dict[str, Events] = field(default_factory=dict, repr=False)

    def has_applied(self, input_id: str | None) -> bool:
        return input_id is not None and input_id in self.applied

    def record(self, input_id: str | None, state: S | None, events: Events) -> None:
        """The state after an input, and its events, to be written with the next save. An
        input without an id (a timer: deciding it twice decides nothing new) is not kept
        among the applied ids."""
        self.state = state
        if input_id is not None:
            self.applied = [*self.applied, input_id][-APPLIED_SIZE:]
        if events:
            held = input_id or f"timer:{self.version + 1}:{len(self.outbox)}"
            raw = [event.to_bytes().decode() for event in events]
            self.outbox.append(Held(input=held, version=self.version + 1, events=raw))
            self._fresh[held] = events
        self.changed = True

    def copy(self) -> "Slot[S]":
        """A slot to decide on, leaving this one as it is (without what is published)."""
        outbox = [held for held in self.outbox if held.version > self.published]
        fresh = {held.input: self._fresh[held.input] for held in outbox}
        return replace(self, applied=list(self.applied), outbox=outbox, _fresh=fresh)

    def replace(self, state: S) -> None:
        """A state change that follows from another document's decision (an agent's slot
        taken for a ticket): no input of its own, kept consistent by the service."""
        self.state = state
        self.changed = True

    def unpublished(self) -> Events:
        """Every recorded event not yet marked published, in the order decided."""
        return [
            event
            for held in self.outbox
            if held.version > self.published
            for event in self._events(held)
        ]

    def _events(self, held: Held) -> Events:
        return self._fresh.get(held.input) or [decode_event(raw) for raw in held.events]

    def document(self, writer: str) -> Document:
        outbox = [held for held in self.outbox if held.version > self.published]
        state = self.state and self.state.model_dump(mode="json", exclude_none=True)
        return {
            "_id": self.key,
            "version": self.version + 1,
            "state": state,  # without its None fields: see absent_is_none
            "applied": self.applied,
            "outbox": [held.model_dump() for held in outbox],
            "published": self.published,
            "writer": writer,
        }


Keys = Callable[[Any], Document]


class StateCollection(Generic[S]):
    """A collection of state documents whose `state` is a `model`. `keys`, if given, adds
    top-level fields computed from the state to every document written: what queries read
    through single-field indexes (nx-27017 uses an index only for a field indexed alone; see
    tests/integration/test_store_backend.py). `owned`: its documents are written by the
    replica that owns their partition (another only after a rebalance, or a timer it fired),
    so the marks that their events are published wait in memory for the documents' next
    writes; other collections (the router's agents, which every replica writes) are marked
    right after publishing, so that another replica does not publish their events again,
    except while `alone()` says that this replica's consumer holds every partition it reads
    (one replica, as a small team runs it): then no other consumer writes them either."""

    def __init__(
        self,
        collection: AsyncCollection[Document],
        model: type[S],
        keys: Keys | None = None,
        owned: bool = False,
        alone: Callable[[], bool] = lambda: False,
        marks: AsyncCollection[Document] | None = None,
    ) -> None:
        absent_is_none(model)
        self.collection = collection
        self.model = model
        self.keys = keys
        self.owned = owned
        self.alone = alone
        self.marks = marks
        self._marking: asyncio.Task[None] | None = None
        self._unmarked: dict[str, tuple[int, str]] = {}  # key: (version, writer) published
        self._mark_due = time.monotonic() + MARK_EVERY_S
        self.process = uuid.uuid4().hex
        self._saves = 0
        self._pending: dict[int, set[str]] = {}  # save: its keys whose events are not marked
        self._published = Ranges()  # this process's saves whose events are all published
        self._published_changed = False
        self._others: dict[str, Ranges] = {}  # other processes' published saves, as last read

    async def load(self, keys: Iterable[str]) -> dict[str, Slot[S]]:
        """Every key's slot, with one `$in`; keys not stored yet get an empty slot."""
        wanted = list(dict.fromkeys(keys))
        found = await self._find({"_id": {"$in": wanted}}) if wanted else {}
        return {key: found.get(key) or Slot(key) for key in wanted}

    async def load_by(self, state_field: str, values: Iterable[str]) -> dict[str, Slot[S]]:
        """Slots whose state field (indexed alone) is one of `values`, by that value: a read
        per value (nx-27017 scans the collection for `$in` on any field but `_id`)."""
        wanted = list(dict.fromkeys(values))
        pages = await asyncio.gather(*(self._find({f"state.{state_field}": v}) for v in wanted))
        return {getattr(slot.state, state_field): slot for page in pages for slot in page.values()}

    async def load_where(
        self, query: Document, sort: list[tuple[str, int]] | None = None, limit: int = 0
    ) -> dict[str, Slot[S]]:
        """Slots by a query on indexed state fields, in `sort` order, at most `limit`."""
        return await self._find(query, sort, limit)

    async def give_keys(self, older: Document, page: int = 200) -> None:
        """Documents matching `older` (stored before `keys` wrote what they write now) are
        written again with their keys, a page at a time; a failing store is tried again."""
        while True:
            try:
                while found := await self.load_where(older, limit=page):
                    for slot in found.values():
                        slot.replace(slot.state)
                    await self.save(found.values())
                return
            except Exception as error:
                log.warning("giving older documents keys failed, trying again", error=repr(error))
                await asyncio.sleep(1)

    async def _find(
        self, query: Document, sort: list[tuple[str, int]] | None = None, limit: int = 0
    ) -> dict[str, Slot[S]]:
        documents = await self.collection.find(query, sort=sort, limit=limit).to_list()
        await self._read_marks(documents)
        return {document["_id"]: self._slot(document) for document in documents}

    async def _read_marks(self, documents: list[Document]) -> None:
        """The published saves of the other processes that wrote unmarked `documents`."""
        if self.marks is None:
            return
        unknown = {
            save[0]
            for document in documents
            if document.get("published", 0) < document["version"]
            and (save := save_of(document.get("writer") or "")) is not None
            and save[0] != self.process
            and not self._others.get(save[0], Ranges()).covers(save[1])
        }
        found = await by_ids(self.marks, map(self._marks_id, unknown), {"ranges": 1})
        for process in unknown:
            if (marks := found.get(self._marks_id(process))) is not None:
                self._others[process] = Ranges(marks["ranges"])

    def _marks_id(self, process: str) -> str:
        return f"{self.collection.name}:{process}"

    def _save_published(self, writer: str | None) -> bool:
        save = save_of(writer or "")
        if save is None:
            return False
        process, number = save
        ranges = self._published if process == self.process else self._others.get(process)
        return ranges is not None and ranges.covers(number)

    def _slot(self, document: Document) -> Slot[S]:
        state, version, writer = document.get("state"), document["version"], document.get("writer")
        marked = self._unmarked.get(document["_id"]) == (version, writer)
        marked = marked or self._save_published(writer)
        return Slot(
            key=document["_id"],
            state=self.model.model_validate(state) if state is not None else None,
            version=version,
            applied=document.get("applied", []),
            outbox=[Held.model_validate(held) for held in document.get("outbox", [])],
            published=version if marked else document.get("published", 0),
            writer=writer or "",
        )

    async def save(self, slots: Iterable[Slot[S]]) -> set[str]:
        """Write every changed slot: new ones inserted, stored ones replaced if still at the
        version read. The keys that lost to another writer; the winners are now stored."""
        changed = [slot for slot in slots if slot.changed]
        writer = self._next_writer()
        lost = await self._insert([s for s in changed if s.version == 0], writer)
        lost |= await self._replace([s for s in changed if s.version > 0], writer)
        pending = set()
        for slot in changed:
            if slot.key not in lost:
                slot.version += 1
                slot.writer = writer
                slot.changed = False
                self._unmarked.pop(slot.key, None)  # the write carried what was known
                if any(held.version > slot.published for held in slot.outbox):
                    pending.add(slot.key)
        if pending and (save := save_of(writer)) is not None:
            self._pending[save[1]] = pending  # the number taken before the writes' awaits
            # the oldest save never published whole is forgotten: its keys are marked alone
            drop_oldest(self._pending, PENDING_SAVES)
        return lost

    def _next_writer(self) -> str:
        if self.marks is None:
            return uuid.uuid4().hex
        self._saves += 1
        return writer_id(self.process, self._saves)

    def _document(self, slot: Slot[S], writer: str) -> Document:
        document = slot.document(writer)
        if self.keys is not None and slot.state is not None:
            document.update(self.keys(slot.state))
        return document

    async def _insert(self, slots: list[Slot[S]], writer: str) -> set[str]:
        return await self._in_slices(slots, writer, self._insert_some)

    async def _replace(self, slots: list[Slot[S]], writer: str) -> set[str]:
        return await self._in_slices(slots, writer, self._replace_some)

    async def _in_slices(
        self,
        slots: list[Slot[S]],
        writer: str,
        write: Callable[[list[Slot[S]], str], Awaitable[set[str]]],
    ) -> set[str]:
        lost: set[str] = set()
        for some in sliced(slots, WRITE_SLICE):
            lost |= await write(some, writer)
        return lost

    async def _insert_some(self, slots: list[Slot[S]], writer: str) -> set[str]:
        return await insert_all(self.collection, [self._document(slot, writer) for slot in slots])

    async def _replace_some(self, slots: list[Slot[S]], writer: str) -> set[str]:
        writes = [
            ReplaceOne({"_id": slot.key, "version": slot.version}, self._document(slot, writer))
            for slot in slots
        ]
        result = await self.collection.bulk_write(writes, ordered=False)
        if result.matched_count == len(writes):
            return set()
        keys = [slot.key for slot in slots]
        written = await by_ids(self.collection, keys, {"writer": 1})
        ours = {key for key, document in written.items() if document["writer"] == writer}
        return set(keys) - ours

    async def mark_published(self, slots: Iterable[Slot[S]], at_once: bool = False) -> None:
        """Record that the slots' events are on the broker: in memory, for the documents'
        next writes to carry; in the store (one bulk write in the background) for those no
        write carried within MARK_EVERY_S (`at_once` if the collection is not `owned` and
        this replica is not alone, or the slots were decided away from their partition's
        owner: a timer, a request). If the process dies first, the events are published once
        more when their documents are next written."""
        marking = [s for s in slots if s.version > s.published and s.outbox]
        whole = self._saves_published(marking)
        for slot in marking:
            slot.published = slot.version
            if slot.writer not in whole:
                self._unmarked[slot.key] = (slot.version, slot.writer)
        due = time.monotonic() >= self._mark_due or len(self._unmarked) >= MARKS_HELD
        due = due or at_once or not (self.owned or self.alone())
        if (self._unmarked or self._published_changed) and due:
            await self.marked()
            self._marking = asyncio.create_task(self._mark(*self._take_marks()))

    def _saves_published(self, slots: list[Slot[S]]) -> set[str]:
        """The writers among `slots` (saves of this process) whose every key with events is
        now published: they join the process's published ranges."""
        whole = set()
        for slot in slots:
            save = save_of(slot.writer)
            if save is None or save[0] != self.process or save[1] not in self._pending:
                continue
            keys = self._pending[save[1]]
            keys.discard(slot.key)
            if not keys:
                del self._pending[save[1]]
                self._published.add(save[1])
                self._published_changed = True
                whole.add(slot.writer)
        return whole

    async def flush(self) -> None:
        """Write every mark kept in memory (at shutdown: the next owner of these documents
        then publishes nothing again)."""
        await self.marked()
        await self._mark(*self._take_marks())

    async def marked(self) -> None:
        """Wait for the last background mark (and raise what it raised)."""
        marking, self._marking = self._marking, None
        if marking is not None:
            await marking

    def _take_marks(self) -> tuple[dict[str, tuple[int, str]], list[list[int]] | None]:
        marks, self._unmarked = self._unmarked, {}
        spans = [list(span) for span in self._published.spans]
        published, self._published_changed = self._published_changed, False
        self._mark_due = time.monotonic() + MARK_EVERY_S
        return marks, spans if published else None

    async def _mark(self, marks: dict[str, tuple[int, str]], spans: list[list[int]] | None) -> None:
        if spans is not None and self.marks is not None:
            await self.marks.update_one(
                {"_id": self._marks_id(self.process)}, {"$set": {"ranges": spans}}, upsert=True
            )
        if not marks:
            return
        await self.collection.bulk_write(
            [
                UpdateOne({"_id": key, "version": version}, {"$set": {"published": version}})
                for key, (version, _) in marks.items()
            ],
            ordered=False,
        )


@dataclass
class Write:
    """One collection's slots of a round, written in the round's order. A `gate`: when any of
    its keys is lost, nothing after it is written (an agent's slot must be won before the
    ticket that takes it)."""

    states: StateCollection[Any]
    slots: dict[str, Slot[Any]]
    gate: bool = False


@dataclass
class Played(Generic[I]):
    """A round decided: what to write, and, told what each write lost (its keys another
    writer beat, in `writes` order), the inputs to decide again; `beaten` is where the service
    keeps what the round's winning inputs leave besides their documents."""

    writes: list[Write]
    beaten: Callable[[list[set[str]]], list[I]]


Play = Callable[[list[I], int], Awaitable[Played[I]]]


@dataclass
class Written:
    """Every slot a batch's rounds wrote, by collection, to publish and mark."""

    groups: dict[int, tuple[StateCollection[Any], dict[str, Slot[Any]]]] = field(
        default_factory=dict
    )

    def keep(self, write: Write, lost: set[str]) -> None:
        _, slots = self.groups.setdefault(id(write.states), (write.states, {}))
        slots.update({key: slot for key, slot in write.slots.items() if key not in lost})

    def slots(self, states: StateCollection[Any]) -> list[Slot[Any]]:
        return list(self.groups.get(id(states), (states, {}))[1].values())

    async def publish(self, publish: Publish, at_once: bool = False) -> None:
        groups = ((states, slots.values()) for states, slots in self.groups.values())
        await publish_and_mark(publish, *groups, at_once=at_once)


async def settle(inputs: Sequence[I], play: Play[I]) -> Written:
    """The one loop of every service: rounds until no input is left to decide again. Each
    round loads and decides (`play`: the inputs left and the round's number, 0 first), its
    writes go out in order, and the inputs whose documents another writer beat are decided
    again on fresh state. What was written is published by the caller (`Written.publish`)."""
    stored, pending, number = Written(), list(inputs), 0
    while pending:
        played = await play(pending, number)
        lost: list[set[str]] = []
        for write in played.writes:
            shut = any(gone for gone, done in zip(lost, played.writes, strict=False) if done.gate)
            lost.append(set(write.slots) if shut else await write.states.save(write.slots.values()))
            stored.keep(write, lost[-1])
        pending, number = played.beaten(lost), number + 1
    return stored


Decide = Callable[[S | None, I, datetime], tuple[S | None, Events]]


async def publish_and_mark(
    publish: Publish,
    *written: tuple[StateCollection[Any], Iterable[Slot[Any]]],
    at_once: bool = False,
) -> None:
    """Publish every unpublished event of the slots, wait for the acks, then mark them."""
    groups = [(states, list(slots)) for states, slots in written]
    await publish(*(event for _, slots in groups for slot in slots for event in slot.unpublished()))
    for states, slots in groups:
        await states.mark_published(slots, at_once)


Stored = Callable[[list[Slot[S]]], Awaitable[None]]
KEPT_SLOTS = 10_000


class DecisionUnit(Generic[I, S]):
    """A batch of inputs, each deciding on the one key it names, through pure `decide`.
    `stored`, if given, sees every slot of the batch once it is written, before its events
    are published: timed services arm their timers there, from the stored state, so a crash
    before publishing leaves no key without its timer (the timer's own write publishes the
    key's unpublished events first) and a replay arms them too.

    The last KEPT_SLOTS slots the unit wrote or read stay in memory, and a batch's first
    round decides on them without reading the store (a key's inputs come from partitions
    this process owns). That is safe because every input it decides is written back with the
    version it was kept at: if another writer changed the document meanwhile, the write
    loses and the input is decided again on the store's state. An input refused on a kept
    slot writes nothing, so it too is decided again on the store's state before it is."""

    def __init__(
        self,
        states: StateCollection[S],
        publish: Publish,
        *,
        key: Callable[[I], str],
        input_id: Callable[[I], str | None],
        decide: Decide[S, I],
        stored: Stored[S] | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.states = states
        self.publish = publish
        self.key = key
        self.input_id = input_id
        self.decide = decide
        self.stored = stored
        self.clock = clock
        self._kept: dict[str, Slot[S]] = {}

    async def handle(self, inputs: Sequence[Input[I]]) -> list[Rejected]:
        refused = await self.apply([one.value for one in inputs])
        return [Rejected(inputs[index], str(why)) for index, why in refused]

    async def apply(
        self, values: Sequence[I], at_once: bool = False
    ) -> list[tuple[int, PoisonMessage]]:
        """Decide, store and publish every value; the refused ones by index, with why.
        `at_once`: the values come from elsewhere than the keys' partitions (a timer, a
        request), so the marks that their events are published are written at once."""
        refused: list[tuple[int, PoisonMessage]] = []

        async def play(pending: list[tuple[int, I]], number: int) -> Played[tuple[int, I]]:
            slots, kept = await self._load([self.key(value) for _, value in pending], number)
            refusals = self._decide_all(pending, slots)
            doubted = {self.key(values[i]) for i, _ in refusals} & kept

            def beaten(lost: list[set[str]]) -> list[tuple[int, I]]:
                again = lost[0] | doubted
                refused.extend((i, why) for i, why in refusals if self.key(values[i]) not in again)
                self._keep(slots, again)
                return [(i, value) for i, value in pending if self.key(value) in again]

            return Played([Write(self.states, slots)], beaten)

        stored = await settle(list(enumerate(values)), play)
        if self.stored is not None:
            await self.stored(stored.slots(self.states))
        await stored.publish(self.publish, at_once)
        return refused

    async def _load(self, keys: list[str], number: int) -> tuple[dict[str, Slot[S]], set[str]]:
        """The keys' slots, and which came from memory (the first round only)."""
        kept = {key: self._kept[key].copy() for key in keys if key in self._kept and not number}
        slots = await self.states.load(key for key in keys if key not in kept)
        return slots | kept, set(kept)

    def _keep(self, slots: dict[str, Slot[S]], doubtful: set[str]) -> None:
        for key, slot in slots.items():
            self._kept.pop(key, None)
            if key not in doubtful:
                self._kept[key] = slot  # the newest last
        drop_oldest(self._kept, KEPT_SLOTS)

    def _decide_all(
        self, values: list[tuple[int, I]], slots: dict[str, Slot[S]]
    ) -> list[tuple[int, PoisonMessage]]:
        now, refused = self.clock(), []
        for index, value in values:
            slot, input_id = slots[self.key(value)], self.input_id(value)
            if slot.has_applied(input_id):
                continue
            try:
                state, events = self.decide(slot.state, value, now)
            except PoisonMessage as error:
                refused.append((index, error))
                continue
            slot.record(input_id, state, events)
        return refused

"""Durable timers in MongoDB, one per key: armed, claimed in batches with a lease, fired, done.

A timer is one document, `{_id: key, due, at, gen, claim}` (times in epoch milliseconds):
- `due` is when it should fire; `at` is when a scheduler may next take it: `due` while it
  waits, the end of the lease while a replica fires it. One index on `at` serves the claim
  and the sleep until the next one.
- Arming writes only timers whose due time changed (read first with one `$in`) and bumps
  `gen`; a key with no due time is deleted.
- A claim reads the earliest timers with `at` ≤ now, then takes them with one conditional
  update (`at` still ≤ now) that sets the lease and this claim's token; the timers that carry
  the token are ours, and a replica that raced for them got none of them.
- Done deletes each fired timer whose `gen` is still the one fired: one re-armed meanwhile
  stays armed for its new due time. A replica that dies while firing leaves its lease to
  expire; another replica (or itself, restarted) takes the timers then.
- The scheduler claims and fires until nothing is due, then sleeps until the earliest `at`,
  woken at once when this process arms an earlier one, and at least every `recheck` seconds
  for timers armed by other replicas.

Held timers (`held=True`) are the same fields on the document they are for, written with it
(`Timers.fields` of its due time): arming costs no write of its own, and the document is
never stored without its timer. On a state document (shared/decisions.py, the fields as the
state collection's `keys`) their `gen` is the document's `version`; a write while a timer is
leased arms it again at its due time, so a tick may come twice: held there, timers are for
decisions that a tick repeats harmlessly. Another document names its own `gen` field and
bumps it when it moves its timer. Done clears `at` of a document whose `gen` is still the
one claimed (a fire that moved the timer armed what comes next with its own write).
"""

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime

from pymongo import DeleteOne, IndexModel, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection

from kefu.shared.logs import get_logger
from kefu.shared.metrics import Metrics
from kefu.shared.store import Document

LEASE_S = 10.0
RECHECK_S = 2.0
CLAIM_BATCH = 500
log = get_logger("kefu.timers")


@dataclass(frozen=True)
class Due:
    """A claimed timer: whose, and when it was due."""

    key: str
    due_at: datetime
    gen: int


def to_ms(instant: datetime) -> int:
    return int(instant.timestamp() * 1000)


def from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def now_ms() -> int:
    return int(time.time() * 1000)


class Timers:
    def __init__(
        self,
        collection: AsyncCollection[Document],
        *,
        lease_s: float = LEASE_S,
        recheck_s: float = RECHECK_S,
        batch: int = CLAIM_BATCH,
        metrics: Metrics | None = None,
        held: bool = False,
        gen: str | None = None,
    ) -> None:
        self.collection = collection
        self.held = held
        self.gen = gen or ("version" if held else "gen")
        self.lease_ms = int(lease_s * 1000)
        self.recheck_s = recheck_s
        self.batch = batch
        self.metrics = metrics
        self._sleeping_until: int | None = None
        self._woken = asyncio.Event()

    @staticmethod
    def indexes(collection: str) -> dict[str, list[IndexModel]]:
        return {collection: [IndexModel([("at", 1)])]}

    @staticmethod
    def fields(due_at: datetime | None) -> Document:
        """A held timer's fields for a state document whose next due time is `due_at`."""
        due = to_ms(due_at) if due_at is not None else None
        return {"due": due, "at": due, "claim": None}

    async def arm(self, wanted: Mapping[str, datetime | None], keep: bool = False) -> None:
        """Each key's timer set to its due time (None: no timer); with `keep`, a key that
        has a timer keeps it (a replay must not bring a scheduled retry forward)."""
        if self.held:
            raise TypeError("held timers are armed by writing their state documents")
        if not wanted:
            return
        found = self.collection.find({"_id": {"$in": list(wanted)}})
        armed = {document["_id"]: document["due"] async for document in found}
        writes: list[UpdateOne | DeleteOne] = []
        earliest: int | None = None
        for key, due_at in wanted.items():
            due = to_ms(due_at) if due_at is not None else None
            if due == armed.get(key) or (keep and key in armed):
                continue
            if due is None:
                writes.append(DeleteOne({"_id": key}))
                continue
            change = {"$set": {"due": due, "at": due, "claim": None}, "$inc": {"gen": 1}}
            writes.append(UpdateOne({"_id": key}, change, upsert=True))
            earliest = due if earliest is None else min(earliest, due)
        if writes:
            await self.collection.bulk_write(writes, ordered=False)
            self._wake_for(earliest)

    async def take_over(self, older: AsyncCollection[Document], page: int = CLAIM_BATCH) -> None:
        """Held timers: the timers an older version kept apart, in `older`, move into their
        documents, a page at a time, each page's left behind once moved (a stale one must not
        come back later). Before anything is consumed or fired: nothing else writes meanwhile."""
        while timers := await older.find({}, limit=page).to_list():
            moved = [
                UpdateOne(
                    {"_id": timer["_id"]},
                    {"$set": Timers.fields(from_ms(timer["due"])), "$inc": {self.gen: 1}},
                )
                for timer in timers
            ]
            await self.collection.bulk_write(moved, ordered=False)
            await older.delete_many({"_id": {"$in": [timer["_id"] for timer in timers]}})

    def wake_for(self, due_at: datetime) -> None:
        """A timer was armed for `due_at` (a held timer, by its document's write)."""
        self._wake_for(to_ms(due_at))

    def _wake_for(self, at: int | None) -> None:
        if at is not None and (self._sleeping_until is None or at < self._sleeping_until):
            self._woken.set()

    async def claim(self, now: int | None = None) -> list[Due]:
        """The earliest due timers that nobody holds, leased to this caller."""
        now = now if now is not None else now_ms()
        due_now = {"at": {"$lte": now}}
        cursor = self.collection.find(due_now, {"_id": 1}, sort=[("at", 1)], limit=self.batch)
        keys = [document["_id"] async for document in cursor]
        if not keys:
            return []
        token = uuid.uuid4().hex
        await self.collection.update_many(
            {"_id": {"$in": keys}, "at": {"$lte": now}},
            {"$set": {"at": now + self.lease_ms, "claim": token}},
        )
        taken = self.collection.find({"_id": {"$in": keys}}, {"due": 1, "claim": 1, self.gen: 1})
        return sorted(
            [
                Due(document["_id"], from_ms(document["due"]), document[self.gen])
                async for document in taken
                if document.get("claim") == token
            ],
            key=lambda due: due.due_at,
        )

    async def done(self, fired: list[Due]) -> None:
        """Fired timers leave (a held one is cleared), unless re-armed since they were
        claimed."""
        if not fired:
            return
        unchanged = [{"_id": due.key, self.gen: due.gen} for due in fired]
        if self.held:
            writes: list[UpdateOne | DeleteOne] = [
                UpdateOne(one, {"$set": {"at": None, "claim": None}}) for one in unchanged
            ]
        else:
            writes = [DeleteOne(one) for one in unchanged]
        await self.collection.bulk_write(writes, ordered=False)

    async def next_at(self) -> int | None:
        """When the earliest timer may be claimed (a range, not every document: a held
        timer's document may have none)."""
        found = await self.collection.find_one({"at": {"$gte": 0}}, {"at": 1}, sort=[("at", 1)])
        return found["at"] if found else None

    async def run(self, fire: Callable[[list[Due]], Awaitable[None]]) -> None:
        """Fire timers as they come due, for ever."""
        while True:
            try:
                if fired := await self.claim():
                    self._observe(fired)
                    await _finished(self._fire(fire, fired))
                    continue
                await self._sleep()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning("firing timers failed, trying again", error=repr(error))
                await asyncio.sleep(1)

    async def _fire(self, fire: Callable[[list[Due]], Awaitable[None]], fired: list[Due]) -> None:
        await fire(fired)
        await self.done(fired)

    async def _sleep(self) -> None:
        self._woken.clear()
        at = await self.next_at()
        wait = self.recheck_s if at is None else min(self.recheck_s, (at - now_ms()) / 1000)
        if wait <= 0:
            return
        self._sleeping_until = at
        try:
            with suppress(TimeoutError):
                await asyncio.wait_for(self._woken.wait(), wait)
        finally:
            self._sleeping_until = None

    def _observe(self, fired: list[Due]) -> None:
        if self.metrics is not None:
            now = datetime.now(UTC)
            for due in fired:
                self.metrics.timer_lateness.observe(max(0.0, (now - due.due_at).total_seconds()))


async def _finished(work: Awaitable[None]) -> None:
    """Run `work` to its end even if the caller is cancelled (a stopping service finishes
    the timers it is firing, then stops)."""
    task = asyncio.ensure_future(work)
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        with suppress(Exception):
            await task
        raise

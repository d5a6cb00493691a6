"""Analytics' collections:

- `analytics_tickets`: a state document per ticket (shared/decisions.py) holding its
  projection; indexed on the fields the API filters and the KPIs select by. The times read
  by range (opened, updated, solved) are written beside the state in milliseconds
  (`time_keys`): nx-27017 answers a range of dates by decoding every document, which at
  200,000 tickets made each of the windows' sixty slices a minute cost 0.2 s.
- `analytics_agents`: a state document per agent holding its presence projection.
- `analytics_outputs`: every snapshot and ops event once written, by its id, so a window
  decided again (a lease that expired mid-fire) publishes the same data.
- `analytics_ops`: the surge and staffing detectors' state.
- `analytics_timers`: one durable timer per KPI window (shared/timers.py).
"""

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from pymongo import IndexModel

from kefu.services.analytics.agents import AgentProjection
from kefu.services.analytics.projection import DONE, TicketProjection
from kefu.shared.events.base import utc_now
from kefu.shared.service import Service
from kefu.shared.store import Document, insert_all, paced
from kefu.shared.timers import Timers, from_ms, to_ms

TIMERS = "analytics_timers"
PAGE_MAX = 200
# Large reads come in small batches: the store answers other services between them instead
# of stalling them for the whole read (nx-27017 is one process).
READ_BATCH = 200
SLICES = 60  # a minute's window is read a second at a time, a day's 24 minutes at a time
TIMES = {"opened_ms": "opened_at", "updated_ms": "updated_at", "solved_ms": "solved_at"}


def time_keys(ticket: TicketProjection) -> dict[str, int | None]:
    """The ticket's times that are read by range, in milliseconds (none if not yet)."""
    return {key: _ms(getattr(ticket, name)) for key, name in TIMES.items()}


def _ms(at: datetime | None) -> int | None:
    return to_ms(at) if at is not None else None


def time_slices(
    start: datetime, now: datetime, count: int
) -> list[tuple[datetime, datetime | None]]:
    """[start, now) in `count` equal slices, the last one open-ended (events stamped after
    `now` belong to it); one open-ended slice when `now` is not after `start`."""
    if now <= start:
        return [(start, None)]
    bounds = [start + (now - start) * n / count for n in range(count)]
    return list(zip(bounds, [*bounds[1:], None], strict=True))


class AnalyticsStore:
    def __init__(self, service: Service) -> None:
        db = service.db
        self.tickets = service.states("tickets", TicketProjection, keys=time_keys, owned=True)
        self.agents = service.states("agents", AgentProjection, owned=True)
        self.outputs = db[service.collection_name("outputs")]
        self.ops = db[service.collection_name("ops")]
        self.timers = Timers(db[TIMERS], metrics=service.bus.metrics)

    @staticmethod
    def indexes() -> dict[str, list[IndexModel]]:
        return {
            "analytics_tickets": [
                IndexModel("state.ticket_id"),
                *(IndexModel(key) for key in TIMES),
                IndexModel("state.assignee"),
                IndexModel("state.queued"),
                IndexModel([("state.status", 1), ("state.priority", 1)]),
            ],
            **Timers.indexes(TIMERS),
        }

    async def ticket(self, ticket_id: str) -> TicketProjection | None:
        found = await self.tickets.collection.find_one({"_id": ticket_id}, {"state": 1})
        return TicketProjection.model_validate(found["state"]) if found else None

    async def updated_since(
        self, start: datetime, share: float = 1.0
    ) -> AsyncIterator[TicketProjection]:
        """Every ticket with an event at or after `start` (what any KPI of a range that
        starts there can count), once each, read in about `share` of the time (see
        `paced`). A ticket updated while read moves to a later slice and comes again: the
        first read counts (both hold what happened before the read began)."""
        seen: set[str] = set()
        async for document in paced(self._updated_in_slices(start), READ_BATCH, share):
            if document["_id"] not in seen:
                seen.add(document["_id"])
                yield TicketProjection.model_validate(document["state"])

    async def _updated_in_slices(self, start: datetime) -> AsyncIterator[Document]:
        """One query per slice of time: the store builds each query's whole result before
        it answers anyone else (nx-27017: 16 µs a matching ticket), so no query may match
        a whole surge. Updates only move a ticket to a later slice."""
        for lower, upper in time_slices(start, utc_now(), SLICES):
            bounds = {"$gte": to_ms(lower)} | ({"$lt": to_ms(upper)} if upper else {})
            query = {"updated_ms": bounds}
            async for document in self.tickets.collection.find(
                query, {"state": 1}, batch_size=READ_BATCH
            ):
                yield document

    async def opened_between(self, start: datetime, end: datetime) -> int:
        return await self._count({"opened_ms": {"$gte": to_ms(start), "$lt": to_ms(end)}})

    async def first_opened_at(self) -> datetime | None:
        found = await self.tickets.collection.find_one(
            {"opened_ms": {"$gte": 0}}, {"opened_ms": 1}, sort=[("opened_ms", 1)]
        )
        return from_ms(found["opened_ms"]) if found else None

    async def give_keys(self) -> None:
        """Tickets stored before their times were written in milliseconds get them."""
        await self.tickets.give_keys({"updated_ms": {"$exists": False}}, READ_BATCH)

    async def page(
        self, filters: dict[str, str], after: str | None, limit: int
    ) -> list[TicketProjection]:
        """Tickets matching `filters` (state fields), in id order, after the id `after` (the
        state's copy of the id: nx-27017 answers a range of `_id` by reading everything)."""
        query: dict[str, Any] = {f"state.{name}": value for name, value in filters.items()}
        if after is not None:
            query["state.ticket_id"] = {"$gt": after}
        in_order = [("state.ticket_id", 1)]
        found = self.tickets.collection.find(query, {"state": 1}, sort=in_order, limit=limit)
        return [TicketProjection.model_validate(d["state"]) async for d in found]

    async def every_ticket(self) -> AsyncIterator[TicketProjection]:
        everything = self.tickets.collection.find(
            {}, {"state": 1}, sort=[("_id", 1)], batch_size=READ_BATCH
        )
        async for document in everything:
            yield TicketProjection.model_validate(document["state"])

    async def queue_length(self) -> int:
        """Tickets waiting for an agent (an indexed count: no projection is read)."""
        return await self._count({"state.queued": True})

    async def agent_counts(self, agent_id: str, since: datetime) -> tuple[int, int]:
        """An agent's load (open tickets assigned) and tickets solved since `since`."""
        load = {"state.assignee": agent_id, "state.status": {"$nin": list(DONE)}}
        solved = {"state.assignee": agent_id, "solved_ms": {"$gte": to_ms(since)}}
        return await self._count(load), await self._count(solved)

    async def _count(self, query: Document) -> int:
        """The tickets matching an indexed query, counted from their ids: it costs what
        matches (`count_documents` is an aggregation, which nx-27017 runs over every
        document: 0.45 s at 20,000 tickets however few match)."""
        found = self.tickets.collection.find(query, {"_id": 1}, batch_size=PAGE_MAX * 10)
        return len([document async for document in found])

    async def every_agent(self) -> list[AgentProjection]:
        found = self.agents.collection.find({}, {"state": 1}, sort=[("_id", 1)])
        return [AgentProjection.model_validate(d["state"]) async for d in found if d.get("state")]

    async def keep_outputs(self, outputs: list[Document]) -> list[Document]:
        """Insert outputs not written yet; those written before are returned as stored."""
        there = await insert_all(self.outputs, outputs)
        if not there:
            return outputs
        found = self.outputs.find({"_id": {"$in": list(there)}})
        stored = {document["_id"]: document async for document in found}
        return [stored.get(output["_id"], output) for output in outputs]

    async def ops_state(self) -> Document:
        return await self.ops.find_one({"_id": "ops"}) or {"_id": "ops"}

    async def save_ops_state(self, state: Document) -> None:
        await self.ops.replace_one({"_id": "ops"}, state, upsert=True)

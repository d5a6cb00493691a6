"""The router's collections:

- `router_agents`: a state document per agent (shared/decisions.py): presence, skills,
  capacity, tier, the tickets it holds, today's count. Taking or freeing a slot is one
  version-filtered replace of this document, so capacity holds across replicas.
- `router_tickets`: a state document per ticket, authoritative for who holds it. The queue
  is the waiting ones, read in order through the index on (status, queue_rank), or only the
  lanes (tier and skills) an agent with room could take, through (lane, status, queue_rank).
- `router_owners`: customer address → the agent who owned their last ticket (first-contact
  ownership).
- `router_flags`: `surge`, while a surge lasts.
"""

import time

from pymongo import IndexModel, UpdateOne

from kefu.services.router.choice import Agent
from kefu.services.router.tickets import RoutedTicket
from kefu.shared.decisions import Slot, StateCollection
from kefu.shared.service import Service

QUEUE_PAGE = 200
SURGE_READ_S = 1.0


class RouterStore:
    def __init__(self, service: Service) -> None:
        db = service.db
        self.agents = StateCollection(db[service.collection_name("agents")], Agent)
        self.tickets = StateCollection(db[service.collection_name("tickets")], RoutedTicket)
        self.owners = db[service.collection_name("owners")]
        self.flags = db[service.collection_name("flags")]
        self._surge, self._surge_read_at = False, -SURGE_READ_S

    @staticmethod
    def indexes() -> dict[str, list[IndexModel]]:
        return {
            "router_tickets": [
                IndexModel([("state.status", 1), ("state.queue_rank", 1)]),
                IndexModel([("state.lane", 1), ("state.status", 1), ("state.queue_rank", 1)]),
                IndexModel([("state.status", 1), ("state.wake_at", 1)]),
            ]
        }

    async def roster(self) -> dict[str, Slot[Agent]]:
        """Every agent: a team's roster is small, and every choice weighs all of it."""
        return await self.agents.load_where({})

    async def waiting(
        self, after: str = "", lanes: list[str] | None = None
    ) -> dict[str, Slot[RoutedTicket]]:
        """A page of the queue, in order, behind the rank `after`: of the `lanes` given, or
        of all of them."""
        query: dict[str, object] = {"state.status": "waiting", "state.queue_rank": {"$gt": after}}
        if lanes is not None:
            query["state.lane"] = {"$in": lanes}
        return await self.tickets.load_where(
            query, sort=[("state.queue_rank", 1)], limit=QUEUE_PAGE
        )

    async def give_lanes(self) -> None:
        """Waiting tickets stored before lanes existed get theirs, a page at a time."""
        older = {"state.status": "waiting", "state.lane": {"$exists": False}}
        while found := await self.tickets.load_where(older, limit=QUEUE_PAGE):
            for slot in found.values():
                slot.replace(slot.state)  # written again: the state's lane goes with it
            await self.tickets.save(found.values())

    async def wake_due(self, now: str) -> dict[str, Slot[RoutedTicket]]:
        """Waiting tickets whose wake_at (RFC 3339, compared as text) has come, in order."""
        return await self.tickets.load_where(
            {"state.status": "waiting", "state.wake_at": {"$lte": now}},
            sort=[("state.queue_rank", 1)],
            limit=QUEUE_PAGE,
        )

    async def next_wake(self) -> str | None:
        """The earliest wake_at in the queue."""
        found = await self.tickets.collection.find_one(
            {"state.status": "waiting", "state.wake_at": {"$gt": ""}},
            sort=[("state.wake_at", 1)],  # whole documents: nx-27017 projects nested fields wrong
        )
        return found["state"]["wake_at"] if found else None

    async def owners_of(self, customers: list[str]) -> dict[str, str]:
        if not customers:
            return {}
        found = self.owners.find({"_id": {"$in": list(dict.fromkeys(customers))}})
        return {document["_id"]: document["agent_id"] async for document in found}

    async def remember_owners(self, owners: dict[str, str]) -> None:
        if owners:
            await self.owners.bulk_write(
                [
                    UpdateOne({"_id": customer}, {"$set": {"agent_id": agent}}, upsert=True)
                    for customer, agent in owners.items()
                ],
                ordered=False,
            )

    async def surging(self) -> bool:
        """Whether a surge is on, read at most once a second (another replica may have read
        the surge event: ops.events has one key)."""
        now = time.monotonic()
        if now - self._surge_read_at >= SURGE_READ_S:
            self._surge = bool(await self.flags.find_one({"_id": "surge", "active": True}))
            self._surge_read_at = now
        return self._surge

    async def set_surge(self, active: bool) -> None:
        await self.flags.update_one({"_id": "surge"}, {"$set": {"active": active}}, upsert=True)
        self._surge, self._surge_read_at = active, time.monotonic()

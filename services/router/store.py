"""The router's collections:

- `router_agents`: a state document per agent (shared/decisions.py): presence, skills,
  capacity, tier, the tickets it holds, today's count. Taking or freeing a slot is one
  version-filtered replace of this document, so capacity holds across replicas.
- `router_tickets`: a state document per ticket, authoritative for who holds it. The queue
  is the waiting ones, read in order, all of them or only the lanes (tier and skills) an
  agent with room could take (a read per lane), and woken in wake_at order. Each is a range
  of one field indexed alone, written beside the state (`queue_keys`): nx-27017 scans the
  collection for `$in` or a compound index, which a queue of 200,000 made slower than the
  tickets came.
- `router_owners`: customer address → the agent who owned their last ticket (first-contact
  ownership).
- `router_flags`: `surge`, while a surge lasts.
"""

import asyncio
import time
from datetime import datetime
from typing import Any

from pymongo import IndexModel, UpdateOne

from kefu.services.router.choice import Agent
from kefu.services.router.tickets import RoutedTicket
from kefu.shared.decisions import Slot
from kefu.shared.service import Service
from kefu.shared.timers import from_ms, to_ms

QUEUE_PAGE = 200
SURGE_READ_S = 1.0
KEYS = ("waiting_rank", "lane_rank", "wake_ms")
PAST_LANE = "}"  # after every "<lane>|<rank>" key of a lane ("|" is one below)


def queue_keys(ticket: RoutedTicket) -> dict[str, Any]:
    """A waiting ticket's place in the queue, in its lane, and when it wakes; none otherwise."""
    waiting = ticket.status == "waiting"
    return {
        "waiting_rank": ticket.queue_rank if waiting else None,
        "lane_rank": f"{ticket.lane}|{ticket.queue_rank}" if waiting else None,
        "wake_ms": to_ms(datetime.fromisoformat(ticket.wake_at))
        if waiting and ticket.wake_at
        else None,
    }


class RouterStore:
    def __init__(self, service: Service) -> None:
        db = service.db
        self.agents = service.states("agents", Agent)
        self.tickets = service.states("tickets", RoutedTicket, keys=queue_keys)
        self.owners = db[service.collection_name("owners")]
        self.flags = db[service.collection_name("flags")]
        self._surge, self._surge_read_at = False, -SURGE_READ_S

    @staticmethod
    def indexes() -> dict[str, list[IndexModel]]:
        return {"router_tickets": [IndexModel([(key, 1)]) for key in KEYS]}

    async def roster(self) -> dict[str, Slot[Agent]]:
        """Every agent: a team's roster is small, and every choice weighs all of it."""
        return await self.agents.load_where({})

    async def waiting(
        self, after: str = "", lanes: list[str] | None = None
    ) -> dict[str, Slot[RoutedTicket]]:
        """A page of the queue, in order, behind the rank `after`: of the `lanes` given (a
        read per lane, merged), or of all of them."""
        if lanes is None:
            return await self._page({"waiting_rank": {"$gt": after}}, "waiting_rank")
        pages = await asyncio.gather(
            *(
                self._page(
                    {"lane_rank": {"$gt": f"{lane}|{after}", "$lt": f"{lane}{PAST_LANE}"}},
                    "lane_rank",
                )
                for lane in lanes
            )
        )
        merged = sorted(
            (slot for page in pages for slot in page.values() if slot.state),
            key=lambda slot: slot.state.queue_rank if slot.state else "",
        )
        return {slot.key: slot for slot in merged[:QUEUE_PAGE]}

    async def _page(self, query: dict[str, Any], key: str) -> dict[str, Slot[RoutedTicket]]:
        return await self.tickets.load_where(query, sort=[(key, 1)], limit=QUEUE_PAGE)

    async def give_keys(self) -> None:
        """Waiting tickets stored before their queue keys were get them (and those whose
        wake time was text, `wake_key`, get it in milliseconds). Two queries, not one `$or`,
        which nx-27017 answers by reading every ticket."""
        unkeyed = {"state.status": "waiting", "waiting_rank": {"$exists": False}}
        await self.tickets.give_keys(unkeyed, QUEUE_PAGE)
        await self.tickets.give_keys({"wake_key": {"$exists": True}}, QUEUE_PAGE)

    async def wake_due(self, now: datetime) -> dict[str, Slot[RoutedTicket]]:
        """Waiting tickets whose wake_at has come, earliest first (by `wake_ms`: a text
        bound that reads as a date makes nx-27017 scan the collection)."""
        return await self._page({"wake_ms": {"$lte": to_ms(now)}}, "wake_ms")

    async def next_wake(self) -> datetime | None:
        """The earliest wake_at in the queue."""
        found = await self.tickets.collection.find_one(
            {"wake_ms": {"$gte": 0}}, {"wake_ms": 1}, sort=[("wake_ms", 1)]
        )
        return from_ms(found["wake_ms"]) if found else None

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

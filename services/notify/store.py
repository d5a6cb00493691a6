"""Notify's collections:

- `notify_tickets`: what notify keeps of each ticket (services/notify/plan.py TicketContext),
  a state document (shared/decisions.py).
- `notify_notifications`: one document per notification, `_id` its deterministic id: what to
  send and how it went (`status`: pending, sent, failed, suppressed; `attempts`). Inserting
  an id that is there already is how a redelivered event is recognised. Each holds its
  durable timer (shared/timers.py, `held`, generation `gen`): when it is next tried, at once,
  after a backoff, at the end of quiet hours, or when an acknowledgement stops waiting;
  armed by the insert, moved by the write that records a try. Until 0.2 the timers were a
  collection of their own, `notify_timers`: its timers move in when notify starts.
- `notify_optouts`: `<channel>:<address>` of customers who asked for no more messages.
"""

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pymongo import UpdateOne

from kefu.services.notify.plan import Notification, TicketContext
from kefu.shared.events.base import utc_now
from kefu.shared.service import Service
from kefu.shared.store import Document, by_ids, insert_all
from kefu.shared.timers import Timers

NOTIFICATIONS = "notify_notifications"
OLDER_TIMERS = "notify_timers"


def arming(due_at: datetime, **change: Any) -> Document:
    """The update that arms a notification's timer for `due_at`, with `change`."""
    return {"$set": {**change, **Timers.fields(due_at)}, "$inc": {"gen": 1}}


def optout_key(channel: str, address: str) -> str:
    return f"{channel}:{address.strip().lower()}"


class NotifyStore:
    def __init__(self, service: Service) -> None:
        db = service.db
        self.tickets = service.states("tickets", TicketContext, owned=True)
        self.notifications = db[NOTIFICATIONS]
        self.optouts = db[service.collection_name("optouts")]
        self.older_timers = db[OLDER_TIMERS]
        metrics = service.bus.metrics
        self.timers = Timers(self.notifications, metrics=metrics, held=True, gen="gen")

    @staticmethod
    def indexes() -> dict[str, Any]:
        return Timers.indexes(NOTIFICATIONS)

    async def create(self, notes: list[Notification]) -> None:
        """Insert the notifications not there yet, each with its timer armed. One there
        already keeps its timer; a pending one without (an older notify died between its
        insert and its timer) gets it."""
        documents = [
            {
                "_id": n.id,
                **n.model_dump(exclude={"id"}),
                "status": "pending",
                "attempts": 0,
                "gen": 0,
                **Timers.fields(n.due_at),
            }
            for n in notes
        ]
        there = await insert_all(self.notifications, documents)
        if there:
            armed = [
                UpdateOne({"_id": n.id, "status": "pending", "at": None}, arming(n.due_at))
                for n in notes
                if n.id in there
            ]
            await self.notifications.bulk_write(armed, ordered=False)
        if notes:
            self.timers.wake_for(min(n.due_at for n in notes))

    async def wake(self, keys: list[str]) -> None:
        """Pending notifications that waited (an acknowledgement) tried at once."""
        if keys:
            now = utc_now()
            pending = {"_id": {"$in": keys}, "status": "pending"}
            await self.notifications.update_many(pending, arming(now))
            self.timers.wake_for(now)

    async def load(self, ids: Iterable[str]) -> dict[str, Document]:
        return await by_ids(self.notifications, ids)

    async def record(self, changes: dict[str, Document], later: dict[str, datetime]) -> None:
        """Each notification's new status, attempts and the like (never datetimes: `$set`),
        its timer moved to when it is tried `later`."""
        writes = [UpdateOne({"_id": k}, {"$set": c}) for k, c in changes.items() if k not in later]
        writes += [UpdateOne({"_id": k}, arming(t, **changes.get(k, {}))) for k, t in later.items()]
        if writes:
            await self.notifications.bulk_write(writes, ordered=False)

    async def hand_over(self, key: str, provider_id: str) -> bool:
        """Mark a pending notification as handed over; False when it no longer was pending."""
        handed = await self.notifications.update_one(
            {"_id": key, "status": "pending"},
            {"$set": {"status": "sending", "provider_id": provider_id}},
        )
        return handed.modified_count == 1

    async def opted_out(self, keys: Iterable[str]) -> set[str]:
        return set(await by_ids(self.optouts, keys, {"_id": 1}))

    async def opt_out(self, channel: str, address: str) -> None:
        key = optout_key(channel, address)
        await self.optouts.update_one({"_id": key}, {"$set": {"channel": channel}}, upsert=True)

    async def opt_in(self, channel: str, address: str) -> bool:
        result = await self.optouts.delete_one({"_id": optout_key(channel, address)})
        return result.deleted_count > 0

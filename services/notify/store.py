"""Notify's collections:

- `notify_tickets`: what notify keeps of each ticket (services/notify/plan.py TicketContext),
  a state document (shared/decisions.py).
- `notify_notifications`: one document per notification, `_id` its deterministic id: what to
  send and how it went (`status`: pending, sent, failed, suppressed; `attempts`). Inserting
  an id that is there already is how a redelivered event is recognised.
- `notify_timers`: when each pending notification is next tried (shared/timers.py): at once,
  after a backoff, at the end of quiet hours, or when an acknowledgement stops waiting.
- `notify_optouts`: `<channel>:<address>` of customers who asked for no more messages.
"""

from collections.abc import Iterable
from typing import Any

from pymongo import UpdateOne

from kefu.services.notify.plan import Notification, TicketContext
from kefu.shared.service import Service
from kefu.shared.store import Document, by_ids, insert_all
from kefu.shared.timers import Timers

TIMERS = "notify_timers"


def optout_key(channel: str, address: str) -> str:
    return f"{channel}:{address.strip().lower()}"


class NotifyStore:
    def __init__(self, service: Service) -> None:
        db = service.db
        self.tickets = service.states("tickets", TicketContext, owned=True)
        self.notifications = db[service.collection_name("notifications")]
        self.optouts = db[service.collection_name("optouts")]
        self.timers = Timers(db[TIMERS], metrics=service.bus.metrics)

    @staticmethod
    def indexes() -> dict[str, Any]:
        return Timers.indexes(TIMERS)

    async def create(self, notes: list[Notification]) -> list[Notification]:
        """Insert the notifications not there yet; those to try: new, or still pending
        (their event was read again after a crash)."""
        documents = [
            {"_id": n.id, **n.model_dump(exclude={"id"}), "status": "pending", "attempts": 0}
            for n in notes
        ]
        there = await insert_all(self.notifications, documents)
        pending = set()
        if there:
            pending = set(await by_ids(self.notifications, there, {"_id": 1}, status="pending"))
        return [n for n in notes if n.id not in there or n.id in pending]

    async def load(self, ids: Iterable[str]) -> dict[str, Document]:
        return await by_ids(self.notifications, ids)

    async def record(self, changes: dict[str, dict[str, Any]]) -> None:
        """Each notification's new status, attempts and the like (never datetimes: `$set`)."""
        if changes:
            writes = [UpdateOne({"_id": key}, {"$set": change}) for key, change in changes.items()]
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

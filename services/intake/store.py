"""Intake's collections: inbound records (dedupe + outbox), ticket conversations, a counter.

An inbound record is written once per (channel, message_id) and holds the events decided
for it, then is marked published. A repeat of a published message does nothing; a replay
after a crash before that mark re-publishes exactly the recorded events, so an event id
always carries the same data. The ticket document is what later messages are threaded against.
"""

from datetime import datetime, timedelta
from typing import Any

from pymongo import IndexModel, ReturnDocument

from shared.events import CloudEvent, decode_event
from shared.service import Service
from shared.store import Document, insert_new

FIRST_TICKET_NUMBER = 1000


class IntakeStore:
    def __init__(self, service: Service) -> None:
        self.inbound = service.db[service.collection_name("inbound")]
        self.tickets = service.db[service.collection_name("tickets")]
        self.counters = service.db[service.collection_name("counters")]
        self.ttl = timedelta(seconds=service.settings.dedupe_ttl_s)

    @staticmethod
    def indexes(service_name: str = "intake") -> dict[str, list[IndexModel]]:
        return {
            f"{service_name}_inbound": [IndexModel("expires_at", expireAfterSeconds=0)],
            f"{service_name}_tickets": [IndexModel([("channel", 1), ("customer_address", 1)])],
        }

    async def recorded(self, dedupe_key: str) -> Document | None:
        return await self.inbound.find_one({"_id": dedupe_key})

    @staticmethod
    def events_of(record: Document) -> list[CloudEvent[Any]]:
        return [decode_event(raw) for raw in record["events"]]

    async def mark_published(self, dedupe_key: str) -> None:
        await self.inbound.update_one({"_id": dedupe_key}, {"$set": {"published": True}})

    async def next_ticket_id(self) -> str:
        counter = await self.counters.find_one_and_update(
            {"_id": "ticket"},
            {"$inc": {"seq": 1}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        return str(FIRST_TICKET_NUMBER + int(counter["seq"]))

    async def record(
        self, dedupe_key: str, events: list[CloudEvent[Any]], now: datetime
    ) -> list[CloudEvent[Any]]:
        """Claim the inbound key for these events; if it was claimed already, its events."""
        document = {
            "_id": dedupe_key,
            "events": [event.model_dump_json() for event in events],
            "expires_at": now + self.ttl,
        }
        if await insert_new(self.inbound, document):
            return events
        earlier = await self.recorded(dedupe_key)
        return self.events_of(earlier) if earlier else events

    async def open_ticket(self, ticket: Document) -> None:
        """The conversation state later messages thread against (idempotent)."""
        await insert_new(self.tickets, {**ticket, "version": 1})

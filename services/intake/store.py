"""Intake's collections: inbound records (dedupe + outbox), ticket conversations, a counter.

An inbound record is written once per input key (`email:<message_id>`, `agent:<command_id>`)
with the events decided for it, then marked published; it expires after KEFU_DEDUPE_TTL_S.
A repeat of a published input does nothing; a replay after a crash before that mark
re-publishes exactly the recorded events, so an event id always carries the same data.

A change to an existing ticket is one compare-and-swap of its conversation document that also
holds the input's events (`outbox`): if two replicas race on one input, the loser finds the
winner's events there instead of deciding again.
"""

from datetime import datetime, timedelta
from typing import Any

from pymongo import IndexModel, ReturnDocument

from services.intake.conversation import Conversation, ThreadKeys
from shared.events import CloudEvent, decode_event
from shared.service import Service
from shared.store import Document, insert_new, swap

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
            f"{service_name}_tickets": [
                IndexModel("message_refs"),
                IndexModel([("conversation", 1), ("number", -1)]),
                IndexModel([("sender", 1), ("number", -1)]),
            ],
        }

    async def recorded(self, key: str) -> Document | None:
        return await self.inbound.find_one({"_id": key})

    @staticmethod
    def events_of(record: Document) -> list[CloudEvent[Any]]:
        return [decode_event(raw) for raw in record["events"]]

    async def record(
        self,
        key: str,
        events: list[CloudEvent[Any]],
        now: datetime,
        opens: Conversation | None = None,
    ) -> Document:
        """Claim the input key for these events (and the ticket they open); if another
        replica or an earlier attempt claimed it first, its record."""
        document = {
            "_id": key,
            "events": [event.model_dump_json() for event in events],
            "opens": opens.document() if opens else None,
            "published": False,
            "expires_at": now + self.ttl,
        }
        if await insert_new(self.inbound, document):
            return document
        return await self.recorded(key) or document

    async def mark_published(self, key: str) -> None:
        await self.inbound.update_one({"_id": key}, {"$set": {"published": True}})

    async def next_ticket_id(self) -> str:
        counter = await self.counters.find_one_and_update(
            {"_id": "ticket"},
            {"$inc": {"seq": 1}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        return str(FIRST_TICKET_NUMBER + int(counter["seq"]))

    async def open_ticket(self, ticket: Document) -> None:
        """Insert a new ticket's conversation (a repeat finds it there and does nothing)."""
        await insert_new(self.tickets, ticket)

    async def ticket(self, ticket_id: str) -> Conversation | None:
        found = await self.tickets.find_one({"_id": ticket_id})
        return Conversation.model_validate(found) if found else None

    async def candidates(self, keys: ThreadKeys) -> list[Conversation]:
        """Every ticket the message could thread to; conversation.choose_thread picks."""
        found: dict[str, Document] = {}
        if keys.message_refs:  # `$in`, since some servers get equality on arrays wrong
            async for document in self.tickets.find(
                {"message_refs": {"$in": list(keys.message_refs)}}
            ):
                found[document["_id"]] = document
        if keys.ticket_token and (token := await self.tickets.find_one({"_id": keys.ticket_token})):
            found[token["_id"]] = token
        for field, value in (("conversation", keys.conversation), ("sender", keys.sender)):
            if value and (latest := await self._newest({field: value})):
                found[latest["_id"]] = latest
        return [Conversation.model_validate(document) for document in found.values()]

    async def _newest(self, query: Document) -> Document | None:
        async for document in self.tickets.find(query).sort("number", -1).limit(1):
            return document
        return None

    async def change_ticket(
        self, changed: Conversation, key: str, events: list[CloudEvent[Any]]
    ) -> bool:
        """Write the ticket's new state with the input's events, if nobody changed it since."""
        held = changed.holding(key, events)
        return (
            await swap(self.tickets, held.document(), expected_version=changed.version) is not None
        )

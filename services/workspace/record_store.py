"""The conversation record's collections:

- `workspace_tickets`: a state document per ticket (shared/decisions.py) holding its
  summary (record.py). Each hot read is a small read through one single-field index (on
  nx-27017, which uses no compound index as MongoDB does and answers `$in` on any field but
  `_id` with a scan): a person's desk by equality on `desk` (set only while the ticket is
  worked, so it matches the desk and nothing more), the queue by the range of ranks
  (`queue_rank`, set only while the ticket waits) sorted by that same field and limited, and
  the customer's history by the prefix of their `history_key`s, newest first, limited: each
  reads the few documents it returns, however many tickets are stored or one customer has.
- `workspace_entries`: an entry per document, `_id` the id of the event it comes from, so
  an event read again is never a second entry; read by equality on the indexed
  `ticket_id`, one ticket at a time.
- `workspace_commands`: a command sent through the workspace per document, `_id` the
  command id: `{person_id, ticket_id, action, status, reason, at}`, recorded before it is
  sent. Its outcome is `$set` by `_id` on the commands recorded; the outcomes of commands
  sent otherwise (straight to `agent.inbound`) are no one's to read and are not kept.
  Recording a command as sent never touches an outcome, so it never goes back to pending.
"""

from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from kefu.services.workspace.commands import CommandState, Status
from kefu.services.workspace.entries import Entry
from kefu.services.workspace.record import TicketSummary, history_prefix
from kefu.shared.decisions import StateCollection
from kefu.shared.inbound import TicketCommand
from kefu.shared.store import Document, by_ids, insert_all

TICKETS, ENTRIES, COMMANDS = "workspace_tickets", "workspace_entries", "workspace_commands"
HISTORY_SIZE = 20
MERGES_FOLLOWED = 8  # A into B, B into C …: how deep a conversation gathers its sources
DESK_MAX = 500


class RecordStore:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.tickets = StateCollection(db[TICKETS], TicketSummary, owned=True)
        self.entries = db[ENTRIES]
        self.commands = db[COMMANDS]

    @staticmethod
    def indexes() -> dict[str, list[IndexModel]]:
        return {
            TICKETS: [
                IndexModel("state.desk"),
                IndexModel("state.queue_rank"),
                IndexModel("state.history_key"),
            ],
            ENTRIES: [IndexModel("ticket_id")],
        }

    # entries

    async def unseen(self, entries: list[Entry]) -> list[Entry]:
        """The entries not stored yet, each once."""
        batch = {entry.id: entry for entry in entries}
        there = await by_ids(self.entries, batch, {"_id": 1})
        return [entry for entry_id, entry in batch.items() if entry_id not in there]

    async def keep(self, entries: list[Entry]) -> None:
        """Insert the entries in one unordered `insert_many`; those stored already stay."""
        documents = [{"_id": e.id, **e.model_dump(exclude={"id"})} for e in entries]
        await insert_all(self.entries, documents)

    async def conversation(self, ticket_ids: list[str]) -> list[Entry]:
        """Every entry of the tickets, oldest first: one equality a ticket (a merge chain is
        a few tickets; nx-27017 answers `$in` on `ticket_id` with a scan)."""
        entries = [
            Entry.model_validate({**document, "id": document["_id"]})
            for ticket_id in dict.fromkeys(ticket_ids)
            async for document in self.entries.find({"ticket_id": ticket_id})
        ]
        return sorted(entries, key=lambda entry: (entry.at, entry.id))

    # summaries

    async def summary(self, ticket_id: str) -> TicketSummary | None:
        return (await self._summaries({"_id": ticket_id})).get(ticket_id)

    async def merged_sources(self, ticket: TicketSummary) -> list[str]:
        """The tickets merged into this one, and those merged into them, breadth first."""
        gathered: list[str] = []
        sources = ticket.merged_from
        for _ in range(MERGES_FOLLOWED):
            sources = [s for s in dict.fromkeys(sources) if s not in (*gathered, ticket.ticket_id)]
            if not sources:
                break
            gathered += sources
            found = await self._summaries({"_id": {"$in": sources}})
            sources = [source for merged in found.values() for source in merged.merged_from]
        return gathered

    async def history(self, ticket: TicketSummary) -> list[TicketSummary]:
        """The customer's other tickets, newest first: the newest HISTORY_SIZE + 1 of their
        `history_key`s, a prefix range on that field sorted by it, so a customer with
        10,000 tickets costs what one with 21 does."""
        if ticket.customer is None:
            return []
        prefix = history_prefix(ticket.customer)
        found = await self._summaries(
            # every key goes on with its opening time, a digit, after the prefix
            {"state.history_key": {"$gt": prefix, "$lt": f"{prefix}~"}},
            sort=[("state.history_key", DESCENDING)],
            limit=HISTORY_SIZE + 1,
        )
        others = [other for key, other in found.items() if key != ticket.ticket_id]
        return others[:HISTORY_SIZE]

    async def desk(self, person_id: str) -> list[TicketSummary]:
        """The tickets assigned to the person and still worked, in no order."""
        return list((await self._summaries({"state.desk": person_id}, limit=DESK_MAX)).values())

    async def queue(self, limit: int) -> list[TicketSummary]:
        """The tickets waiting for an agent, in the queue's order."""
        waiting = {"state.queue_rank": {"$gt": ""}}
        found = await self._summaries(waiting, sort=[("state.queue_rank", ASCENDING)], limit=limit)
        return list(found.values())

    async def _summaries(
        self, query: Document, sort: list[tuple[str, int]] | None = None, limit: int = 0
    ) -> dict[str, TicketSummary]:
        cursor = self.tickets.collection.find(query, {"state": 1}, sort=sort, limit=limit)
        return {
            document["_id"]: TicketSummary.model_validate(document["state"])
            async for document in cursor
            if document.get("state")
        }

    # commands

    async def sent(
        self, command: TicketCommand, person_id: str, status: Status, at: datetime
    ) -> bool:
        """Record a command as sent by the person; False when its id is another's."""
        sender = {
            "person_id": person_id,
            "ticket_id": command.ticket_id,
            "action": command.action,
            "at": at,
        }
        try:
            await self.commands.insert_one(
                {"_id": command.command_id, **sender, "status": status, "reason": None}
            )
            return True
        except DuplicateKeyError:
            found = await self.commands.find_one({"_id": command.command_id}) or {}
        if found.get("person_id") is None:  # only its outcome, as versions before 0.3 kept
            await self.commands.update_one({"_id": command.command_id}, {"$set": sender})
            return True
        return bool(found["person_id"] == person_id)

    async def settle(self, outcomes: list[tuple[str, Status, str | None]]) -> None:
        """Set the outcome of each command recorded as sent, by `_id`."""
        writes = [
            UpdateOne({"_id": command_id}, {"$set": {"status": s, "reason": r}})
            for command_id, s, r in outcomes
        ]
        if writes:
            await self.commands.bulk_write(writes, ordered=False)

    async def command(self, command_id: str) -> CommandState | None:
        found: dict[str, Any] | None = await self.commands.find_one({"_id": command_id})
        # nx-27017 keeps a `$set` time as text: pydantic reads it back as a time
        return CommandState.model_validate({**found, "command_id": command_id}) if found else None

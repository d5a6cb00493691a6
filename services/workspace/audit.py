"""The audit trail (contract 8): every action a person took through the workspace, one
document a line in `workspace_audit`, never changed after it is written (but for the `key`
that lines of older versions are given).

A line's `_id` starts with its UTC time to the microsecond (`audit_id`), and `key`, indexed,
is the same text: ordering by `key` is newest first, a page's cursor is the last `_id` it
showed, and "since" is a range on `key` too (nx-27017 compares dates to the whole second;
text compares exactly; it answers a range of `_id` by reading every line). Lines written
before `key` get it when the workspace starts. The other filters are the indexed scalars
`person_id` and `ticket_id`; `at` is the same time as a date, for readers. A command's
outcome is not written here: the record keeps it in `workspace_commands` (by command id), and
a read joins it with one `$in`.
"""

import secrets
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from kefu.shared.events.base import utc_now
from kefu.shared.store import Document

AUDIT, COMMANDS = "workspace_audit", "workspace_commands"
KEYED_AT_ONCE = 500


def time_key(at: datetime) -> str:
    """A time as text that sorts as the time does (UTC, to the microsecond, any year; a
    time without a zone is UTC). OverflowError for a time that is no UTC year 1-9999."""
    at = at.astimezone(UTC) if at.tzinfo else at
    return f"{at.year:04d}{at:%m%dT%H%M%S%f}"


def audit_id(at: datetime) -> str:
    """A line's id: its time key, then a random tail (two lines in one microsecond stay two)."""
    return f"{time_key(at)}-{secrets.token_hex(4)}"


class AuditLog:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.lines = db[AUDIT]
        self.commands = db[COMMANDS]

    @staticmethod
    def indexes() -> dict[str, list[IndexModel]]:
        fields = ("person_id", "ticket_id", "key")
        return {AUDIT: [IndexModel([(field, ASCENDING)]) for field in fields]}

    async def give_keys(self) -> None:
        """Lines written before they carried `key` get it, a page at a time."""
        unkeyed = {"key": {"$exists": False}}
        while older := await self.lines.find(unkeyed, {"_id": 1}, limit=KEYED_AT_ONCE).to_list():
            keyed = [UpdateOne({"_id": o["_id"]}, {"$set": {"key": o["_id"]}}) for o in older]
            await self.lines.bulk_write(keyed, ordered=False)

    async def record(
        self,
        person_id: str,
        action: str,
        ticket_id: str | None = None,
        command_id: str | None = None,
        outcome: str | None = None,
        detail: str | None = None,
    ) -> None:
        """`detail`: what else a line needs (whom a people change touched and which fields,
        a macro's id, the login a failed sign-in tried); never a secret."""
        at = utc_now()
        line_id = audit_id(at)
        await self.lines.insert_one(
            {
                "_id": line_id,
                "key": line_id,
                "at": at,
                "person_id": person_id,
                "action": action,
                "ticket_id": ticket_id,
                "command_id": command_id,
                "outcome": outcome,
                "detail": detail,
            }
        )

    async def page(
        self, where: dict[str, Any], since: str | None, before: str | None, limit: int
    ) -> list[Document]:
        """Up to `limit` lines matching `where`, newest first, from the time key `since` on
        and older than the line `before`; each command's outcome as the record has it now."""
        keys: dict[str, str] = {}
        if since is not None:
            keys["$gte"] = since
        if before is not None:
            keys["$lt"] = before
        query = {**where, "key": keys} if keys else where
        newest = self.lines.find(query, {"key": 0}).sort("key", DESCENDING)
        found = await newest.limit(limit).to_list()
        asked = [line["command_id"] for line in found if line.get("command_id")]
        if asked:
            cursor = self.commands.find({"_id": {"$in": asked}}, {"status": 1})
            status = {command["_id"]: command.get("status") async for command in cursor}
            for line in found:
                line["outcome"] = status.get(line.get("command_id")) or line.get("outcome")
        return found

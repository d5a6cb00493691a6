"""The audit trail (contract 8): every action a person took through the workspace, one
document a line in `workspace_audit`, never changed after it is written.

A line's `_id` starts with its UTC time to the microsecond (`audit_id`), so ordering by `_id`
is newest first, a page's cursor is the last `_id` it showed, and "since" is a range on
`_id` too (nx-27017 compares dates to the whole second; text compares exactly). The other
filters are the indexed scalars `person_id` and `ticket_id`; `at` is the same time as a date,
for readers. A command's outcome is not written here: the record keeps it in
`workspace_commands` (by command id), and a read joins it with one `$in`.
"""

import secrets
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from kefu.shared.events.base import utc_now
from kefu.shared.store import Document

AUDIT, COMMANDS = "workspace_audit", "workspace_commands"


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
        return {AUDIT: [IndexModel([(field, ASCENDING)]) for field in ("person_id", "ticket_id")]}

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
        await self.lines.insert_one(
            {
                "_id": audit_id(at),
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
        ids: dict[str, str] = {}
        if since is not None:
            ids["$gte"] = since
        if before is not None:
            ids["$lt"] = before
        query = {**where, "_id": ids} if ids else where
        found = await self.lines.find(query).sort("_id", DESCENDING).limit(limit).to_list()
        asked = [line["command_id"] for line in found if line.get("command_id")]
        if asked:
            cursor = self.commands.find({"_id": {"$in": asked}}, {"status": 1})
            status = {command["_id"]: command.get("status") async for command in cursor}
            for line in found:
                line["outcome"] = status.get(line.get("command_id")) or line.get("outcome")
        return found

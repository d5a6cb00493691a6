"""What the customer's view of a ticket (`/t/{token}`, contract 8) shows, pure.

Only the public conversation: the customer's messages and the public replies. Notes,
milestones (who holds the ticket, its priority, its SLA) and every staff id or address stay
off it: an agent shows by name only (or as "Support"), and attachments by file name (their
URLs point into the company's storage). The expected answer time is the earliest first
response or next reply target still running, as the record's summary holds it; none once
the ticket waits on the customer, is solved, or the target has passed.
"""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from kefu.services.workspace.entries import Entry
from kefu.services.workspace.record import DONE, TicketSummary, target_key

ANSWER_METRICS = ("first_response", "next_reply")


class PublicEntry(BaseModel):
    """An entry as the customer sees it: nothing in it can name the staff but a name."""

    by: Literal["customer", "agent"]
    agent_name: str | None
    text: str
    at: datetime
    files: list[str]


def public_entries(entries: list[Entry]) -> list[PublicEntry]:
    return [
        PublicEntry(
            by="customer" if entry.kind == "message" else "agent",
            agent_name=entry.author.name if entry.kind == "reply" else None,
            text=entry.text,
            at=entry.at,
            files=[attachment.filename for attachment in entry.attachments],
        )
        for entry in entries
        if entry.public and entry.kind in ("message", "reply")
    ]


def expected_answer(ticket: TicketSummary, now: datetime) -> datetime | None:
    if ticket.status in (*DONE, "pending"):
        return None
    running = [
        target.due_at
        for target in ticket.sla_targets
        if target.metric in ANSWER_METRICS
        and target_key(target.metric, target.due_at) not in ticket.sla_ended
        and target.due_at > now
    ]
    return min(running, default=None)

"""The CSV export: one row per ticket, for BI tools, written as it is read. Its cells, and
the report's, go through `safe_cells`: no outside text runs as a spreadsheet formula."""

import csv
import io
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import datetime
from typing import Any

from kefu.services.analytics.projection import TicketProjection, Took

FLUSH_BYTES = 64 * 1024
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """Text a spreadsheet would read as a formula, behind a single quote (OWASP's rule against
    CSV injection). Text only: kefu writes its own numbers as int and float, so a negative one
    stays a number."""
    return f"'{value}" if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value


def safe_cells(values: Iterable[Any]) -> list[Any]:
    return [safe_cell(value) for value in values]


def _when(instant: datetime | None) -> str:
    return instant.isoformat() if instant else ""


def _seconds(took: Took | None, business: bool = False) -> Any:
    if took is None:
        return ""
    return round(took.business_s if business else took.calendar_s, 3)


def _blank(value: Any) -> Any:
    return "" if value is None else value


COLUMNS: dict[str, Callable[[TicketProjection], Any]] = {
    "ticket_id": lambda t: t.ticket_id,
    "status": lambda t: _blank(t.status),
    "priority": lambda t: _blank(t.priority),
    "channel": lambda t: _blank(t.channel),
    "category": lambda t: " / ".join(t.category),
    "customer_tier": lambda t: t.customer.tier if t.customer else "",
    "assignee": lambda t: _blank(t.assignee),
    "opened_at": lambda t: _when(t.opened_at),
    "first_public_reply_at": lambda t: _when(t.first_public_reply_at),
    "first_solved_at": lambda t: _when(t.first_solved_at),
    "solved_at": lambda t: _when(t.solved_at),
    "closed_at": lambda t: _when(t.closed_at),
    "first_response_s": lambda t: _seconds(t.first_response),
    "first_response_business_s": lambda t: _seconds(t.first_response, business=True),
    "resolution_s": lambda t: _seconds(t.full_resolution),
    "resolution_business_s": lambda t: _seconds(t.full_resolution, business=True),
    "requester_wait_s": lambda t: _seconds(t.requester_wait),
    "handling_s": lambda t: _seconds(t.handling),
    "public_replies": lambda t: t.public_replies,
    "reopened": lambda t: t.reopened,
    "one_touch": lambda t: t.one_touch(),
    "csat": lambda t: _blank(t.csat),
    "nps": lambda t: _blank(t.nps),
}


async def csv_rows(tickets: AsyncIterator[TicketProjection]) -> AsyncIterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    async for ticket in tickets:
        writer.writerow(safe_cells(column(ticket) for column in COLUMNS.values()))
        if buffer.tell() > FLUSH_BYTES:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()

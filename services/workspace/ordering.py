"""The orders tickets are listed in, pure.

- The queue (`GET /v1/queue`) is in the router's order (services/router/choice.py
  `queue_rank`; the same rule written again here, since services share no code outside
  shared/): customer tier (svip, vip, standard), priority, the earliest SLA due time still
  running, then how long it has waited, then the ticket id. The rank is a string that sorts
  in that order (times as RFC 3339 UTC with milliseconds), kept in the summary and indexed,
  so the queue is read in order.
- A person's desk (`GET /v1/me/tickets`): the earliest SLA due time still running (tickets
  without one last), then priority, then age (opened first).
"""

from datetime import datetime
from typing import TYPE_CHECKING

from kefu.shared.events.base import CustomerTier, Priority, rfc3339

if TYPE_CHECKING:
    from kefu.services.workspace.record import TicketSummary

CUSTOMER_TIER_RANK: dict[CustomerTier, int] = {"svip": 0, "vip": 1, "standard": 2}
NEVER = "9999-12-31T23:59:59.999Z"


def queue_rank(
    customer_tier: CustomerTier,
    priority: Priority,
    due_at: datetime | None,
    waiting_since: datetime | None,
    ticket_id: str,
) -> str:
    due = rfc3339(due_at) if due_at else NEVER
    since = rfc3339(waiting_since) if waiting_since else ""
    return f"{CUSTOMER_TIER_RANK[customer_tier]}|{priority}|{due}|{since}|{ticket_id}"


def desk_order(ticket: "TicketSummary") -> tuple[str, str, str, str]:
    """The sort key of a ticket on its assignee's desk."""
    due = rfc3339(ticket.next_due_at) if ticket.next_due_at else NEVER
    opened = rfc3339(ticket.opened_at) if ticket.opened_at else NEVER
    return due, ticket.priority or "P9", opened, ticket.ticket_id

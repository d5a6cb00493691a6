"""`kefu tickets show <id>`: a ticket's projection and timeline, through the analytics API."""

import os
import sys
from pathlib import Path
from typing import Any, TextIO

import httpx

from kefu.terminal import printable

LOCAL_TOKEN = Path(".kefu/api-token")  # what `kefu up` made
FIELDS = ("status", "priority", "tier", "assignee", "channel", "subject", "opened_at",
          "first_public_reply_at", "solved_at", "reopened", "csat", "nps", "follow_up_of",
          "related_to", "merged_into")  # fmt: skip


def api_token(given: str | None) -> str | None:
    if given or os.environ.get("KEFU_API_TOKEN"):
        return given or os.environ["KEFU_API_TOKEN"]
    return LOCAL_TOKEN.read_text(encoding="utf-8").strip() if LOCAL_TOKEN.exists() else None


def show_ticket(url: str, token: str | None, ticket_id: str, out: TextIO = sys.stdout) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        answer = httpx.get(f"{url.rstrip('/')}/v1/tickets/{ticket_id}", headers=headers, timeout=10)
    except httpx.HTTPError as error:
        print(f"kefu tickets: analytics at {url} did not answer: {error}", file=sys.stderr)
        return 1
    if answer.status_code != 200:
        print(f"kefu tickets: {answer.status_code} {printable(answer.text)}", file=sys.stderr)
        return 1
    print(ticket_text(answer.json()), file=out)
    return 0


def ticket_text(ticket: dict[str, Any]) -> str:
    """kefu's layout, one line a field; the ticket's values with control characters escaped."""
    customer = ticket.get("customer") or {}
    lines = [f"ticket {printable(ticket['ticket_id'])}"]
    lines += [_line(name, ticket[name]) for name in FIELDS if ticket.get(name) is not None]
    if customer:
        lines.append(_line("customer", f"{customer.get('address')} ({customer.get('tier')})"))
    if ticket.get("category"):
        lines.append(_line("category", " / ".join(ticket["category"])))
    for target, outcome in (ticket.get("sla") or {}).items():
        lines.append(_line("sla", f"{target} {outcome}"))
    lines.append("timeline")
    lines += [
        f"  {'  '.join(printable(entry[key]) for key in ('at', 'type', 'id'))}"
        for entry in ticket["timeline"]
    ]
    return "\n".join(lines)


def _line(name: str, value: Any) -> str:
    return f"  {name:<22} {printable(value)}"

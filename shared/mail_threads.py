"""How kefu's mail names its ticket, so a customer's reply from any mail client finds it
(contract 10): the `[#id]` token in the subject, and kefu's own Message-IDs
(`<kefu.<ticket id>.<32 hex>@<domain of KEFU_MAIL_FROM>>`), which the reply's In-Reply-To and
References repeat even when the subject was rewritten."""

import hashlib
import re
from email.utils import parseaddr

TICKET_TOKEN = re.compile(r"\[#([A-Za-z0-9_-]{1,64})\]")
_TICKET_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_KEFU_MESSAGE_ID = re.compile(r"<kefu\.([A-Za-z0-9_-]{1,64})\.[0-9a-f]{32}@[^>\s]+>")


def kefu_message_id(notification_id: str, ticket_id: str, sender: str) -> str:
    """The Message-ID of one notification's mail: the same on every retry."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "kefu"
    digest = hashlib.sha256(notification_id.encode()).hexdigest()[:32]
    ticket = f"kefu.{ticket_id}." if _TICKET_ID.fullmatch(ticket_id) else ""
    return f"<{ticket}{digest}@{domain}>"


def ticket_of_message_id(message_id: str) -> str | None:
    """The ticket a Message-ID of kefu's names, or None for any other Message-ID."""
    found = _KEFU_MESSAGE_ID.fullmatch(message_id.strip())
    return found.group(1) if found else None

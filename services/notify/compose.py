"""An email as kefu sends it: plain text and HTML, a Message-ID made from the notification id,
In-Reply-To and References that thread it with the customer's own mails (so a reply comes
back to the same ticket through intake), and for customers the one-click unsubscribe headers
of RFC 8058."""

import hashlib
from email.message import EmailMessage
from email.utils import formataddr

from kefu.services.notify.plan import Notification, TicketContext
from kefu.services.notify.templates import Email


def message_id(notification_id: str, sender: str) -> str:
    domain = sender.rpartition("@")[2] or "kefu"
    return f"<{hashlib.sha256(notification_id.encode()).hexdigest()[:32]}@{domain}>"


def email_message(
    note: Notification,
    email: Email,
    sender: str,
    context: TicketContext | None,
    unsubscribe_url: str | None,
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = (
        formataddr((context.name or "", note.to))
        if context and context.name and note.audience == "customer"
        else note.to
    )
    message["Subject"] = email.subject
    message["Message-ID"] = message_id(note.id, sender)
    message["X-Kefu-Notification-Id"] = note.id
    thread = _thread(context) if note.audience == "customer" else []
    if thread:
        message["In-Reply-To"] = thread[-1]
        message["References"] = " ".join(dict.fromkeys(thread))
    if unsubscribe_url:
        message["List-Unsubscribe"] = f"<{unsubscribe_url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(email.text)
    message.add_alternative(email.html, subtype="html")
    return message


def _thread(context: TicketContext | None) -> list[str]:
    """The customer's Message-IDs on the ticket: the first and the latest."""
    if context is None or context.channel != "email":
        return []
    ids = [context.first_message_id, context.last_message_id]
    return [i for i in ids if i and i.startswith("<") and i.endswith(">")]

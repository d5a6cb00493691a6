"""An email as kefu sends it: plain text and HTML, a Message-ID made from the notification id,
In-Reply-To and References that thread it with the customer's own mails (so a reply comes
back to the same ticket through intake), and for customers the one-click unsubscribe headers
of RFC 8058. Outside text loses its control characters before it goes into a header, so a
line break in a customer's name neither adds a header nor stops the mail (contract 11).

Built with the standard library's `compat32` classes, which take headers as they are given:
the default policy parses every header it is given and folds it again when the mail is
written, which made a mail cost several times as much (timed alone on the bench's machine),
notify's largest cost. The mail stays 7-bit: text that is not ASCII goes in
RFC 2047 encoded words and base64 parts."""

import re
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import compat32
from email.utils import formataddr, parseaddr

from kefu.services.notify.plan import Notification, TicketContext
from kefu.services.notify.templates import Email
from kefu.shared.mail_threads import kefu_message_id

CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
MAIL = compat32.clone(linesep="\r\n")  # as the mail goes to the server: CRLF lines
LONGEST_LINE = 998  # RFC 5322: a longer line goes in base64


def header_text(text: str) -> str:
    """`text` for a mail header: each line break or tab (with the spaces around it) one space,
    every other control character (C0, DEL, C1) gone. Line breaks are the ones `splitlines`
    knows, the same the email policy refuses (U+2028 too)."""
    lines = (CONTROLS.sub("", line).strip() for line in text.replace("\t", "\n").splitlines())
    return " ".join(line for line in lines if line)


def email_message(
    note: Notification,
    email: Email,
    sender: str,
    context: TicketContext | None,
    unsubscribe_url: str | None,
) -> Message:
    message = MIMEMultipart("alternative", policy=MAIL)
    name = header_text(context.name or "") if context and note.audience == "customer" else ""
    to = header_text(note.to)
    message["From"] = formataddr(parseaddr(sender), charset="utf-8")
    message["To"] = formataddr((name, to), charset="utf-8") if name else to
    message["Subject"] = _words(header_text(email.subject))
    message["Message-ID"] = kefu_message_id(note.id, note.ticket_id, sender)
    message["X-Kefu-Notification-Id"] = header_text(note.id)
    thread = _thread(context) if note.audience == "customer" else []
    if thread:
        message["In-Reply-To"] = thread[-1]
        message["References"] = " ".join(dict.fromkeys(thread))
    if unsubscribe_url:
        message["List-Unsubscribe"] = f"<{unsubscribe_url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.attach(_part(email.text, "plain"))
    message.attach(_part(email.html, "html"))
    return message


def _words(text: str) -> str | Header:
    """A header's text: as it is when ASCII, else RFC 2047 encoded words."""
    return text if text.isascii() else Header(text, "utf-8")


def _part(text: str, subtype: str) -> MIMEText:
    """7bit when ASCII in short lines, else UTF-8 in base64."""
    short = all(len(line) <= LONGEST_LINE for line in text.splitlines())
    return MIMEText(text, subtype, "us-ascii" if text.isascii() and short else "utf-8")


def _thread(context: TicketContext | None) -> list[str]:
    """The customer's Message-IDs on the ticket: the first and the latest."""
    if context is None or context.channel != "email":
        return []
    ids = [header_text(i) for i in (context.first_message_id, context.last_message_id) if i]
    return [i for i in ids if i.startswith("<") and i.endswith(">")]

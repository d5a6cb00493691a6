"""The one parser of both mail adapters (contract 10): a raw mail, as an MTA or a mailbox
gives it, to a `channel.inbound` message and its attachments' bytes, or to the reason it is no
customer's message (an auto-reply, a bounce, kefu's own mail, bytes no mail can be read from).
Pure and synchronous; it never raises."""

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage, Message
from email.parser import BytesHeaderParser
from email.utils import parseaddr, parsedate_to_datetime
from typing import Any, Literal

from kefu.adapters.mail_parts import (
    File,
    addresses,
    attachment,
    body_text,
    header,
    is_attachment,
    own_parts,
    parameter,
    text_header,
)
from kefu.shared.inbound import MAX_CC, TimeBounds, email_address
from kefu.shared.mail_threads import TICKET_TOKEN, ticket_of_message_id
from kefu.shared.settings import Settings

MAX_ID = 256  # ChannelMessage.message_id; a longer In-Reply-To could name no message kefu has
MAX_REFERENCES = 20
MAX_FIELD = 998  # RFC 5322's line
MAX_NAME = 256
MAX_TEXT = 100_000
MAX_DETAIL = 200
ANGLE_ID = re.compile(r"<[^<>]+>")
HEADER_END = re.compile(rb"\r?\n\r?\n")
FIELD_START = re.compile(rb"\r?\n(?![ \t])")
RECEIVED_FIELD = re.compile(rb"received\s*:", re.IGNORECASE)
AUTO_REPLY_FIELDS = (  # (field, whether the first word of its value marks an automatic mail)
    ("Auto-Submitted", lambda word: word != "no"),  # RFC 3834
    ("X-Autoreply", lambda word: True),
    ("X-Autorespond", lambda word: True),
    ("Precedence", lambda word: word in {"bulk", "junk", "list", "auto_reply"}),
)
FIRST_WORD = re.compile(r"[^\s;(]*")  # before parameters (";") and comments ("(")


@dataclass(frozen=True)
class OwnMail:
    """What marks kefu's own mail: its sender and the domain of its Message-IDs."""

    address: str  # KEFU_MAIL_FROM, compared case-insensitively
    message_id_domain: str  # the part after "@" of KEFU_MAIL_FROM

    @classmethod
    def of(cls, settings: Settings) -> "OwnMail":
        address = parseaddr(settings.mail_from)[1] or settings.mail_from
        return cls(address, address.rpartition("@")[2])


@dataclass(frozen=True)
class Mail:
    message: dict[str, Any]  # a channel.inbound payload (contract 2.1); attachment urls ""
    files: list[File]  # the attachments' bytes, in the order of message["attachments"]


@dataclass(frozen=True)
class NotATicket:
    reason: Literal["auto_reply", "bounce", "own_mail", "unreadable"]
    detail: str  # for the log line: which header said so, e.g. "Auto-Submitted: auto-replied"
    ticket_id: str | None = None  # a bounce of kefu's own mail: the ticket it was about


def read_mail(
    raw: bytes, own: OwnMail, bounds: TimeBounds, envelope_from: str | None = None
) -> Mail | NotATicket:
    try:
        message = message_from_bytes(raw, policy=policy.default)
        not_a_ticket = _own_mail(message, own) or _bounce(message) or _auto_reply(message)
        return not_a_ticket or _mail(message, raw, own, bounds, envelope_from)
    except Exception as error:  # the standard parser raises on some hostile mail (deep nesting)
        return NotATicket("unreadable", f"{type(error).__name__}: {error}"[:MAX_DETAIL])


def _own_mail(message: Message, own: OwnMail) -> NotATicket | None:
    for _, address in addresses(message, "From"):
        if address.lower() == own.address.lower():
            return NotATicket("own_mail", _detail("From", address))
    given = _given_id(message)
    if given and given[1:-1].rpartition("@")[2].lower() == own.message_id_domain.lower():
        return NotATicket("own_mail", _detail("Message-ID", given))
    notification = header(message, "X-Kefu-Notification-Id")
    if notification is not None:
        return NotATicket("own_mail", _detail("X-Kefu-Notification-Id", notification))
    return None


def _bounce(message: Message) -> NotATicket | None:
    report_type = (parameter(header(message, "Content-Type"), "report-type") or "").lower()
    if message.get_content_type() == "multipart/report" and report_type == "delivery-status":
        detail = "Content-Type: multipart/report; report-type=delivery-status"
    elif any(part.get_content_type() == "message/delivery-status" for part in own_parts(message)):
        detail = "a message/delivery-status part"
    else:
        return None
    return NotATicket("bounce", detail, _returned_ticket(message))


def _returned_ticket(message: Message) -> str | None:
    """The ticket the returned mail was about: its Message-ID (kefu's name the ticket), else
    the `[#id]` token in its subject."""
    for part in own_parts(message):
        returned = _returned_fields(part)
        if returned is not None:
            given = _given_id(returned)
            token = TICKET_TOKEN.search(text_header(returned, "Subject") or "")
            return (given and ticket_of_message_id(given)) or (token.group(1) if token else None)
    return None


def _returned_fields(part: Message) -> Message | None:
    if part.get_content_type() == "text/rfc822-headers":
        fields = part.get_payload(decode=True) or b""
        return BytesHeaderParser(policy=policy.default).parsebytes(fields)
    if part.get_content_type() == "message/rfc822" and part.is_multipart():
        return next(iter(part.get_payload()), None)
    return None


def _auto_reply(message: Message) -> NotATicket | None:
    """RFC 3834's headers and their older kin, and read receipts (RFC 8098), which a mail
    client sends without them."""
    report_type = (parameter(header(message, "Content-Type"), "report-type") or "").lower()
    if (
        message.get_content_type() == "multipart/report"
        and report_type == "disposition-notification"
    ):
        return NotATicket("auto_reply", "a read receipt (report-type=disposition-notification)")
    for name, marks_automatic in AUTO_REPLY_FIELDS:
        value = header(message, name)
        if value is not None and marks_automatic(FIRST_WORD.match(value.strip())[0].lower()):
            return NotATicket("auto_reply", _detail(name, value))
    return None


def _detail(name: str, value: str) -> str:
    return f"{name}: {value.strip()}"[:MAX_DETAIL]


def _mail(
    message: EmailMessage,
    raw: bytes,
    own: OwnMail,
    bounds: TimeBounds,
    envelope_from: str | None,
) -> Mail | NotATicket:
    sender = _sender(message, envelope_from)
    if sender is None:
        tried = "Reply-To, From and the envelope sender give no address email-validator accepts"
        return NotATicket("unreadable", tried)
    files = [attachment(part) for part in own_parts(message) if is_attachment(part)]
    received_at, date_said = _dated(message, bounds)
    subject = text_header(message, "Subject")
    fields = {
        "channel": "email",
        "message_id": _given_id(message) or _content_id(raw),
        "from": sender,
        "subject": None if subject is None else subject[:MAX_FIELD],
        "text": _cut(body_text(message)),
        "received_at": received_at,
        "thread": _thread(message),
        "cc": _cc(message, own),
        "attachments": [_attachment_fields(file) for file in files],
        "meta": _meta(message, date_said),
    }
    return Mail({key: value for key, value in fields.items() if value is not None}, files)


def _meta(message: Message, date_said: str | None) -> dict[str, str]:
    to = ", ".join(address for _, address in addresses(message, "To"))
    return {"to": to[:MAX_FIELD]} | ({"date": date_said[:MAX_FIELD]} if date_said else {})


def _sender(message: Message, envelope_from: str | None) -> dict[str, str] | None:
    """The first mailbox email-validator accepts, from Reply-To, then From, then the
    envelope: a broken Reply-To does not lose a customer whose From is fine."""
    envelope = [("", envelope_from)] if envelope_from else []
    for name, address in [*addresses(message, "Reply-To"), *addresses(message, "From"), *envelope]:
        valid = _valid(address)
        if valid:
            return {"address": valid, "name": name[:MAX_NAME]} if name else {"address": valid}
    return None


def _valid(address: str) -> str | None:
    try:
        return email_address(address)
    except ValueError:
        return None


def _cc(message: Message, own: OwnMail) -> list[dict[str, str]]:
    kept: dict[str, None] = {}
    for _, address in addresses(message, "Cc"):
        if len(kept) == MAX_CC:
            break
        valid = _valid(address)
        if valid and valid.lower() != own.address.lower():
            kept[valid] = None
    return [{"address": address} for address in kept]


def _ids(field: str | None) -> list[str]:
    """Each `<…>` id in a field, its blanks gone; longer ones than MAX_ID left out."""
    found = ("".join(each.split()) for each in ANGLE_ID.findall(field or ""))
    return [each for each in found if len(each) <= MAX_ID]


def _given_id(message: Message) -> str | None:
    """The mail's Message-ID in angle brackets (added when the mailer left them out)."""
    field = (header(message, "Message-ID") or "").strip()
    given = _ids(field) or _ids(f"<{field}>")
    return given[0] if given else None


def _content_id(raw: bytes) -> str:
    """A Message-ID for a mail without one, from its content without the Received fields:
    the copy an MTA sends again after a lost reply, with a new Received line from kefu's
    SMTP server, gets the same id, and intake drops it as a duplicate."""
    head, *body = HEADER_END.split(raw, maxsplit=1)
    fields = [each for each in FIELD_START.split(head) if not RECEIVED_FIELD.match(each)]
    content = b"\r\n".join(fields) + b"\r\n\r\n" + b"".join(body)
    return f"<{hashlib.sha256(content).hexdigest()[:32]}@kefu.invalid>"


def _thread(message: Message) -> dict[str, Any] | None:
    in_reply_to = _ids(header(message, "In-Reply-To"))[:1]
    references = _ids(header(message, "References"))[-MAX_REFERENCES:]
    thread: dict[str, Any] = {}
    if in_reply_to:
        thread["in_reply_to"] = in_reply_to[0]
    if references:
        thread["references"] = references
    return thread or None


def _dated(message: Message, bounds: TimeBounds) -> tuple[str | None, str | None]:
    """(received_at, None) from the date of the topmost Received field (the last hop: when
    the mail reached kefu's side), else of Date; or (None, the date the mail gave) when that is
    unreadable or out of bounds: the mail still becomes a ticket, dated when kefu read it."""
    received = header(message, "Received") or ""
    received_date = received.rpartition(";")[2] if ";" in received else None
    said = [text.strip() for text in (received_date, header(message, "Date")) if text]
    for text in said:
        instant = _instant(text)
        if instant is not None:
            try:
                return bounds.check(instant).isoformat(), None
            except ValueError:
                return None, text
    return None, said[0] if said else None


def _instant(text: str) -> datetime | None:
    try:
        instant = parsedate_to_datetime(text)
    except (ValueError, OverflowError):
        return None
    return instant if instant.tzinfo else instant.replace(tzinfo=UTC)  # "-0000": UTC, place unsaid


def _attachment_fields(file: File) -> dict[str, Any]:
    return {
        "filename": file.filename,
        "content_type": file.content_type,
        "size": len(file.data),
        "url": "",
    }


def _cut(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"

"""The parser both mail adapters use (contract 10): a raw mail becomes a channel.inbound
message that intake accepts, with its attachments' bytes beside it, or the reason it is no
ticket (an auto-reply, a bounce, kefu's own mail, bytes that are no mail)."""

import json
import re
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from kefu.adapters.mail import Mail, NotATicket, OwnMail, read_mail
from kefu.shared.inbound import TimeBounds, decode_channel_message
from kefu.shared.settings import Settings

NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
BOUNDS = TimeBounds(timedelta(minutes=5), timedelta(days=7), now=lambda: NOW)
OWN = OwnMail("kefu@support.example.com", "support.example.com")
KEFU_MESSAGE_ID = "<kefu.2077.0123456789abcdef0123456789abcdef@support.example.com>"
HASHED_ID = re.compile(r"<[0-9a-f]{32}@kefu\.invalid>")
FIELDS = {
    "Received": "from mx1.example.net (mx1.example.net [203.0.113.7]) by "
    "mail.support.example.com (Postfix) with ESMTPS id 4Qx7; Wed, 2 Dec 2026 09:58:02 +0000",
    "From": "Li Lei <lilei@example.net>",
    "To": "Support <support@support.example.com>",
    "Subject": "Order 1042 has not arrived",
    "Date": "Wed, 2 Dec 2026 17:57:40 +0800",
    "Message-ID": "<CAJx8Zk1@mail.example.net>",
    "MIME-Version": "1.0",
    "Content-Type": "text/plain; charset=utf-8",
}
BODY = b"Hello,\r\n\r\nmy order 1042 has not arrived yet.\r\n\r\nLi Lei\r\n"


def handwritten(*fields: str | bytes, body: bytes = BODY, drop: tuple[str, ...] = ()) -> bytes:
    """A mail as a mailer writes it: `fields` on top, then FIELDS but the ones `fields` give
    again or `drop` names."""
    given = [field if isinstance(field, bytes) else field.encode() for field in fields]
    named = {field.split(b":", 1)[0].decode().lower() for field in given} | {
        name.lower() for name in drop
    }
    kept = [
        f"{name}: {value}".encode() for name, value in FIELDS.items() if name.lower() not in named
    ]
    return b"\r\n".join([*given, *kept]) + b"\r\n\r\n" + body


def built(message: EmailMessage) -> bytes:
    for name in ("From", "To", "Date", "Message-ID"):
        if name not in message:
            message[name] = FIELDS[name]
    return message.as_bytes()


def read(raw: bytes, envelope_from: str | None = None) -> dict[str, Any]:
    """The message of a mail that is a ticket, decoded as intake decodes what the adapter
    publishes."""
    mail = read_mail(raw, OWN, BOUNDS, envelope_from)
    assert isinstance(mail, Mail), mail
    accepted(mail)
    return mail.message


def accepted(mail: Mail) -> None:
    payload = json.dumps(mail.message, ensure_ascii=False).encode()
    decode_channel_message(payload, BOUNDS)
    attachments = mail.message["attachments"]
    assert [meta["size"] for meta in attachments] == [len(file.data) for file in mail.files]
    assert [meta["filename"] for meta in attachments] == [file.filename for file in mail.files]
    assert all(meta["url"] == "" for meta in attachments)


def not_a_ticket(raw: bytes) -> NotATicket:
    result = read_mail(raw, OWN, BOUNDS)
    assert isinstance(result, NotATicket), result
    return result


# -- the message --------------------------------------------------------------------------


def test_a_plain_mail_becomes_a_message() -> None:
    assert read(handwritten()) == {
        "channel": "email",
        "message_id": "<CAJx8Zk1@mail.example.net>",
        "from": {"address": "lilei@example.net", "name": "Li Lei"},
        "subject": "Order 1042 has not arrived",
        "text": "Hello,\r\n\r\nmy order 1042 has not arrived yet.\r\n\r\nLi Lei",
        "received_at": "2026-12-02T09:58:02+00:00",
        "cc": [],
        "attachments": [],
        "meta": {"to": "support@support.example.com"},
    }


def test_own_mail_is_read_from_the_settings() -> None:
    assert OwnMail.of(Settings(mail_from="kefu@support.example.com")) == OWN
    named = OwnMail.of(Settings(mail_from="Kefu Support <Kefu@Support.example.com>"))
    assert named == OwnMail("Kefu@Support.example.com", "Support.example.com")


@pytest.mark.parametrize(
    ("field", "subject"),
    [
        ("=?GB2312?B?udjT2raptaUxMDQytcTNy7/uyerH6w==?=", "关于订单1042的退款申请"),
        # GBK's 镕 in a mail labelled GB2312, its two bytes split across two words
        ("=?GB2312?B?1uzp?=\r\n =?GB2312?B?Rrv5z8jJ+rXEzbbL3w==?=", "朱镕基先生的投诉"),
        ("=?gbk?b?1uzpRrv5z8jJ+rXEzbbL3w==?=", "朱镕基先生的投诉"),
        ("=?GB18030?B?udjT2raptaUxMDQytcTNy7/uyerH6w==?=", "关于订单1042的退款申请"),
        ("=?big5?B?rXGz5qxkuN8=?=", "訂單查詢"),
        ("=?UTF-8?Q?=E9=80=80=E6=AC=BE=E7=94=B3=E8=AF=B7_order_1042?=", "退款申请 order 1042"),
        ("Re: =?utf-8?B?5qOA5p+l?= =?utf-8?B?6L+b5bqm?= [#1042]", "Re: 检查进度 [#1042]"),
        ("=?iso-8859-1?q?Caf=E9_cr=E8me?=", "Café crème"),
        ("=?windows-1252?Q?=93quoted=94?=", "“quoted”"),
        ("=?utf-8?B?5L2g/w==?=", "你\ufffd"),  # invalid UTF-8 replaced
        ("=?x-unknown?q?abc?=", "abc"),
        ("=?utf-8?B?5L2gx?=", "=?utf-8?B?5L2gx?="),  # broken base64 stays as written
        ("plain ASCII, no words", "plain ASCII, no words"),
    ],
)
def test_subjects_are_decoded_in_any_charset(field: str, subject: str) -> None:
    assert read(handwritten(f"Subject: {field}"))["subject"] == subject


@pytest.mark.parametrize("charset", ["gbk", "utf-8"])
def test_8bit_subjects_without_rfc2047_are_read(charset: str) -> None:
    raw = handwritten(b"Subject: " + "投诉：发票抬头错误".encode(charset))
    assert read(raw)["subject"] == "投诉：发票抬头错误"


def test_a_long_subject_is_cut_and_a_missing_one_left_out() -> None:
    assert read(handwritten("Subject: " + "x" * 1200))["subject"] == "x" * 998
    assert "subject" not in read(handwritten(drop=("Subject",)))


@pytest.mark.parametrize(
    ("field", "name"),
    [
        ("=?GB2312?B?1cXOsA==?= <zhangwei@example.cn>", "张伟"),
        ('"=?utf-8?B?546L5bCP5piO?=" <wxm@example.cn>', "王小明"),
        ("Mr =?utf-8?q?=E7=8E=8B?= <wang@example.cn>", "Mr 王"),
        ('"' + "名" * 300 + '" <long@example.cn>', "名" * 256),
        ("<nobody@example.cn>", None),
        ("nobody@Example.CN", None),
    ],
)
def test_the_display_name_is_decoded(field: str, name: str | None) -> None:
    assert read(handwritten(f"From: {field}"))["from"].get("name") == name


def test_replies_go_to_reply_to_else_from_else_the_envelope() -> None:
    reply_to = "Reply-To: =?utf-8?B?546L5bCP5piO?= <orders@shop.example.cn>"
    assert read(handwritten(reply_to))["from"] == {
        "address": "orders@shop.example.cn",
        "name": "王小明",
    }
    broken = handwritten("Reply-To: not an address")
    assert read(broken)["from"]["address"] == "lilei@example.net"
    envelope = handwritten(drop=("From",))
    assert read(envelope, "bounce-me@example.org")["from"] == {"address": "bounce-me@example.org"}


@pytest.mark.parametrize(
    ("fields", "envelope_from"),
    [(("From: undisclosed",), None), (("From: x@localhost",), "also wrong"), ((), None)],
)
def test_a_mail_without_a_usable_sender_is_unreadable(
    fields: tuple[str, ...], envelope_from: str | None
) -> None:
    result = read_mail(handwritten(*fields, drop=("From",)), OWN, BOUNDS, envelope_from)
    assert isinstance(result, NotATicket) and result.reason == "unreadable"
    assert "Reply-To, From" in result.detail


def test_cc_keeps_valid_addresses_but_kefus_own() -> None:
    cc = (
        "Cc: =?utf-8?q?=E5=BC=A0?= <Zhang@Example.CN>, KEFU@support.example.com,\r\n"
        " not-an-address, boss@example.net, boss@example.net"
    )
    assert read(handwritten(cc))["cc"] == [
        {"address": "Zhang@example.cn"},
        {"address": "boss@example.net"},
    ]
    many = "Cc: " + ", ".join(f"p{n}@example.net" for n in range(60))
    assert len(read(handwritten(many))["cc"]) == 48


def test_to_is_kept_in_meta() -> None:
    to = "To: support@support.example.com, =?utf-8?q?=E5=AE=A2=E6=9C=8D?= <cs@example.net>"
    assert read(handwritten(to))["meta"] == {"to": "support@support.example.com, cs@example.net"}


# -- ids and threads ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "message_id"),
    [
        ("<CAJx8Zk1@mail.example.net>", "<CAJx8Zk1@mail.example.net>"),
        ("  <CAJx8Zk1@mail.example.net>  (Outlook)", "<CAJx8Zk1@mail.example.net>"),
        ("<CAJx8Zk1@\r\n mail.example.net>", "<CAJx8Zk1@mail.example.net>"),
        ("CAJx8Zk1@mail.example.net", "<CAJx8Zk1@mail.example.net>"),
    ],
)
def test_the_message_id_keeps_its_brackets(field: str, message_id: str) -> None:
    assert read(handwritten(f"Message-ID: {field}"))["message_id"] == message_id


@pytest.mark.parametrize("field", [None, "Message-ID: ", f"Message-ID: <{'a' * 300}@example.net>"])
def test_a_mail_without_a_usable_message_id_gets_one_from_its_content(field: str | None) -> None:
    fields = (field,) if field else ()
    raw = handwritten(*fields, drop=("Message-ID",))
    made = read(raw)["message_id"]
    assert HASHED_ID.fullmatch(made)
    assert read(raw)["message_id"] == made
    # the copy an MTA sends again passes kefu's SMTP server again: a new Received line on top
    again = b"Received: from mx2.example.net by kefu; Wed, 2 Dec 2026 10:01:00 +0000\r\n" + raw
    assert read(again)["message_id"] == made
    other = handwritten(*fields, drop=("Message-ID",), body=b"a different question\r\n")
    assert read(other)["message_id"] != made


def test_in_reply_to_and_references_thread_the_mail() -> None:
    references = " ".join(f"<ref{n}@mail.example.net>" for n in range(25))
    raw = handwritten(
        "In-Reply-To: <kefu.1042.aaaa@support.example.com> (your mail of Tuesday) <b@x>",
        "References: " + references.replace(" ", "\r\n ", 3) + f" <{'r' * 300}@x>",
    )
    thread = read(raw)["thread"]
    assert thread["in_reply_to"] == "<kefu.1042.aaaa@support.example.com>"
    assert thread["references"] == [f"<ref{n}@mail.example.net>" for n in range(5, 25)]
    assert "thread" not in read(handwritten("In-Reply-To: none", "References: "))


# -- the body -----------------------------------------------------------------------------


def test_plain_text_is_preferred_in_multipart_alternative() -> None:
    message = EmailMessage()
    message["Subject"] = "您好"
    message.set_content("纯文本：订单 1042 还没有到。\n")
    message.add_alternative("<p>HTML：<b>订单</b> 1042</p>", subtype="html")
    assert read(built(message))["text"] == "纯文本：订单 1042 还没有到。"


def test_html_only_mail_is_read_as_text_with_its_table_and_list() -> None:
    html = """<html><head><style>td { color: red }</style></head><body>
    <p>您好，以下是我的订单：</p>
    <table><tr><th>订单号</th><th>状态</th></tr>
    <tr><td>1042</td><td>未发货</td></tr></table>
    <ul><li>颜色：红色</li><li>尺寸：XL</li></ul>
    <script>track()</script></body></html>"""
    message = EmailMessage()
    message.set_content(html, subtype="html", charset="utf-8", cte="base64")
    text = read(built(message))["text"]
    assert "<" not in text and "track()" not in text and "color" not in text
    assert re.search(r"订单号\s+状态\s*\n\s*1042\s+未发货", text)
    assert re.search(r"\* 颜色：红色\s*\n\s*\* 尺寸：XL", text)


def test_html_in_alternative_is_read_when_there_is_no_plain_part() -> None:
    raw = handwritten(
        'Content-Type: multipart/alternative; boundary="alt"',
        body=b"--alt\r\nContent-Type: text/html; charset=gb2312\r\n"
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        b"<div>=C4=FA=BA=C3</div>\r\n--alt--\r\n",
    )
    assert read(raw)["text"] == "您好"


@pytest.mark.parametrize(
    ("content_type", "body", "text"),
    [
        ("text/plain; charset=utf-8", b"ok \xff\xfe bad", "ok \ufffd\ufffd bad"),
        ("text/plain; charset=gb2312", "朱镕基".encode("gbk"), "朱镕基"),  # GBK labelled GB2312
        ("text/plain; charset=x-bogus", "退款".encode(), "退款"),
        ("text/plain; charset=us-ascii", "退款".encode(), "退款"),  # 8-bit mail claiming ASCII
        ("text/plain", "退款".encode("gbk"), "退款"),
        ("text/plain; charset=idna", b"abc\xff", "abc\ufffd"),
        ("text/plain; charset*=utf-8''big5", "訂單".encode("big5"), "訂單"),
    ],
)
def test_body_charsets_never_fail(content_type: str, body: bytes, text: str) -> None:
    raw = handwritten(f"Content-Type: {content_type}", "Content-Transfer-Encoding: 8bit", body=body)
    assert read(raw)["text"] == text


def test_a_long_body_is_cut_with_an_ellipsis() -> None:
    text = read(handwritten(body=b"x" * 150_000))["text"]
    assert len(text) == 100_000 and text.endswith("x…")


def test_a_forwarded_mail_is_an_attachment_not_the_body() -> None:
    forwarded = EmailMessage()
    forwarded["Subject"] = "Original complaint"
    forwarded["From"] = "customer@example.org"
    forwarded.set_content("The inner text.\n")
    message = EmailMessage()
    message["Subject"] = "Fwd: Original complaint"
    message.set_content("See below.\n")
    message.add_attachment(forwarded)
    mail = read_mail(built(message), OWN, BOUNDS)
    assert isinstance(mail, Mail)
    accepted(mail)
    assert mail.message["text"] == "See below."
    (meta,) = mail.message["attachments"]
    assert meta["filename"] == "attachment.eml" and meta["content_type"] == "message/rfc822"
    assert b"Subject: Original complaint" in mail.files[0].data


# -- attachments --------------------------------------------------------------------------


def test_attachments_are_listed_with_their_bytes() -> None:
    message = EmailMessage()
    message.set_content("附件是报价单和截图。\n")
    message.add_attachment(b"%PDF-1.7 quote", "application", "pdf", filename="报价单.pdf")
    message.add_attachment(b"\x89PNG screen", "image", "png", filename="截图 1.png")
    message.add_attachment("a,b\n1,2\n", subtype="csv", filename="orders.csv")
    mail = read_mail(built(message), OWN, BOUNDS)
    assert isinstance(mail, Mail)
    accepted(mail)
    assert mail.message["attachments"] == [
        {"filename": "报价单.pdf", "content_type": "application/pdf", "size": 14, "url": ""},
        {"filename": "截图 1.png", "content_type": "image/png", "size": 11, "url": ""},
        {"filename": "orders.csv", "content_type": "text/csv", "size": 8, "url": ""},
    ]
    assert [file.data for file in mail.files] == [
        b"%PDF-1.7 quote",
        b"\x89PNG screen",
        b"a,b\n1,2\n",
    ]
    assert mail.message["text"] == "附件是报价单和截图。"


def attached(*disposition_and_type: str, data: bytes = b"data") -> dict[str, Any]:
    """The one attachment of a hand-written multipart/mixed mail with these part fields."""
    part = b"\r\n".join(field.encode() for field in disposition_and_type)
    body = (
        b"--mix\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
        b"--mix\r\n" + part + b"\r\n\r\n" + data + b"\r\n--mix--\r\n"
    )
    raw = handwritten('Content-Type: multipart/mixed; boundary="mix"', body=body)
    (meta,) = read(raw)["attachments"]
    return meta


@pytest.mark.parametrize(
    ("fields", "filename"),
    [
        (
            (
                "Content-Type: application/pdf",
                "Content-Disposition: attachment; filename*=UTF-8''%E5%8F%91%E7%A5%A8.pdf",
            ),
            "发票.pdf",
        ),
        (  # GBK bytes labelled GB2312
            (
                "Content-Type: application/pdf",
                "Content-Disposition: attachment;\r\n"
                " filename*=gb2312''%B1%A8%BC%DB%B5%A5%A3%A8%E9F%A3%A9.pdf",
            ),
            "报价单（镕）.pdf",
        ),
        (  # RFC 2231 sections, a character split between them
            (
                "Content-Type: application/pdf",
                "Content-Disposition: attachment;\r\n filename*0*=utf-8''%E5%8F;\r\n"
                " filename*1*=%91%E7%A5%A8;\r\n filename*2=.pdf",
            ),
            "发票.pdf",
        ),
        (  # RFC 2047 inside the quotes (Outlook's way)
            (
                'Content-Type: application/msword; name="=?gb2312?B?us/NrLLdsLguZG9jeA==?="',
                'Content-Disposition: attachment; filename="=?gb2312?B?us/NrLLdsLguZG9jeA==?="',
            ),
            "合同草案.docx",
        ),
        (  # a plain name beside the RFC 2231 one: the RFC 2231 one wins
            (
                "Content-Type: application/pdf",
                'Content-Disposition: attachment; filename="fallback.pdf";'
                " filename*=utf-8''%E5%8F%91%E7%A5%A8.pdf",
            ),
            "发票.pdf",
        ),
        (  # the name only in Content-Type, no Content-Disposition: a picture in the text
            ('Content-Type: image/jpeg; name="photo.jpg"',),
            "photo.jpg",
        ),
    ],
)
def test_encoded_file_names_are_decoded(fields: tuple[str, ...], filename: str) -> None:
    assert attached(*fields)["filename"] == filename


@pytest.mark.parametrize(
    ("parameter", "filename"),
    [
        ('filename="../../etc/passwd"', "passwd"),
        ("filename*=utf-8''..%2F..%2Fetc%2Fpasswd", "passwd"),
        (r'filename="..\\..\\windows\\win.ini"', "win.ini"),
        ("filename*=utf-8''a%0D%0Ab.txt", "ab.txt"),
        ('filename="..htaccess"', "htaccess"),
        ("filename*=utf-8''invoice%E2%80%AEfdp.exe", "invoicefdp.exe"),  # right-to-left override
        ("filename*=utf-8''%00%01", "attachment.pdf"),
        ('filename="../"', "attachment.pdf"),
        ('filename="' + "…" * 400 + '.pdf"', "…" * 83 + ".pdf"),
        ("filename*=utf-8''" + "%E2%80%A6" * 400 + "." + "x" * 40, "…" * 85),
    ],
)
def test_hostile_file_names_are_made_safe(parameter: str, filename: str) -> None:
    fields = ("Content-Type: application/pdf", f"Content-Disposition: attachment; {parameter}")
    found = attached(*fields)["filename"]
    assert found == filename and len(found.encode()) <= 255


@pytest.mark.parametrize(
    ("fields", "filename", "content_type"),
    [
        (
            ("Content-Type: image/png", "Content-Disposition: attachment"),
            "attachment.png",
            "image/png",
        ),
        (
            ("Content-Type: application/x-unheard-of", "Content-Disposition: attachment"),
            "attachment",
            "application/x-unheard-of",
        ),
        (
            ("Content-Type: image/" + "p" * 300, "Content-Disposition: attachment"),
            "attachment.bin",
            "application/octet-stream",
        ),
    ],
)
def test_an_attachment_without_a_name_is_named_by_its_type(
    fields: tuple[str, ...], filename: str, content_type: str
) -> None:
    meta = attached(*fields)
    assert (meta["filename"], meta["content_type"]) == (filename, content_type)


def test_inline_text_and_nameless_inline_pictures_are_no_attachments() -> None:
    body = (
        b"--rel\r\nContent-Type: text/html\r\n\r\n<p>see <img src=cid:logo></p>\r\n"
        b"--rel\r\nContent-Type: image/gif\r\nContent-ID: <logo>\r\nContent-Disposition: inline"
        b"\r\n\r\nGIF89a\r\n--rel--\r\n"
    )
    raw = handwritten('Content-Type: multipart/related; boundary="rel"', body=body)
    assert read(raw)["attachments"] == []


# -- dates --------------------------------------------------------------------------------


def received(at: datetime) -> str:
    return f"Received: from mx1.example.net by mail.support.example.com; {format_datetime(at)}"


def test_received_at_is_the_topmost_received_date() -> None:
    raw = handwritten(
        received(NOW - timedelta(minutes=3)),
        received(NOW - timedelta(minutes=4)),
        "Date: Mon, 30 Nov 2026 08:00:00 +0800",
    )
    assert read(raw)["received_at"] == "2026-12-02T09:57:00+00:00"


def test_without_received_the_date_field_dates_the_mail() -> None:
    raw = handwritten("Date: Wed, 2 Dec 2026 17:50:00 +0800", drop=("Received",))
    assert read(raw)["received_at"] == "2026-12-02T17:50:00+08:00"
    minus_zero = handwritten("Date: Wed, 2 Dec 2026 09:50:00 -0000", drop=("Received",))
    assert read(minus_zero)["received_at"] == "2026-12-02T09:50:00+00:00"


def test_an_unreadable_received_date_falls_back_to_date() -> None:
    raw = handwritten("Received: from a by b; yesterday", "Date: Wed, 2 Dec 2026 09:00:00 +0000")
    assert read(raw)["received_at"] == "2026-12-02T09:00:00+00:00"


@pytest.mark.parametrize(
    ("fields", "date"),
    [
        ((received(NOW - timedelta(days=14)),), format_datetime(NOW - timedelta(days=14))),
        ((received(NOW + timedelta(hours=1)),), format_datetime(NOW + timedelta(hours=1))),
        (("Received: from a by b; soon", "Date: whenever"), "soon"),
        (("Date: Thu, 1 Jan 1970 00:00:00 +0000",), "Thu, 1 Jan 1970 00:00:00 +0000"),
    ],
)
def test_a_date_kefu_cannot_use_is_kept_in_meta(fields: tuple[str, ...], date: str) -> None:
    drop = () if any(field.startswith("Received") for field in fields) else ("Received",)
    message = read(handwritten(*fields, drop=drop))
    assert "received_at" not in message
    assert message["meta"]["date"] == date


# -- not tickets --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "field",
    [
        "Auto-Submitted: auto-replied",
        "Auto-Submitted: auto-generated",
        "Auto-Submitted: Auto-Notified; owner-email=it@example.net",
        "X-Autoreply: yes",
        "X-Autorespond: Vacation",
        "Precedence: bulk",
        "Precedence: JUNK",
        "Precedence: list",
        "Precedence: auto_reply",
    ],
)
def test_auto_replies_are_no_tickets(field: str) -> None:
    result = not_a_ticket(handwritten(field, "Subject: 自动回复：我正在休假"))
    assert result == NotATicket("auto_reply", field)


def test_a_read_receipt_is_no_ticket() -> None:
    receipt = handwritten(
        'Content-Type: multipart/report; report-type=disposition-notification; boundary="b"',
        body=b"--b\r\nContent-Type: text/plain\r\n\r\nRead.\r\n--b--\r\n",
        drop=("Content-Type",),
    )
    assert not_a_ticket(receipt).reason == "auto_reply"


@pytest.mark.parametrize(
    "field",
    ["Auto-Submitted: no", "Auto-Submitted: No (a person wrote this)", "Precedence: first-class"],
)
def test_mail_a_person_wrote_is_a_ticket(field: str) -> None:
    read(handwritten(field))


DSN = b"""\
Return-Path: <>
Received: from mx1.example.net (mx1.example.net [203.0.113.7])
\tby mail.support.example.com (Postfix) with ESMTPS id 4QxB1;
\tWed,  2 Dec 2026 09:58:10 +0000 (UTC)
From: MAILER-DAEMON@mx1.example.net (Mail Delivery System)
Subject: Undelivered Mail Returned to Sender
To: kefu@support.example.com
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
\tboundary="A1B2C3.1764669490/mx1.example.net"
Message-Id: <20261202095810.A1B2C3@mx1.example.net>
Date: Wed,  2 Dec 2026 09:58:10 +0000 (UTC)

This is a MIME-encapsulated message.

--A1B2C3.1764669490/mx1.example.net
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx1.example.net.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients.

<lilei@example.net>: host mail.example.net[198.51.100.4] said: 550 5.1.1
    <lilei@example.net>: Recipient address rejected: User unknown

--A1B2C3.1764669490/mx1.example.net
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx1.example.net
X-Postfix-Queue-ID: A1B2C3
Arrival-Date: Wed,  2 Dec 2026 09:58:07 +0000 (UTC)

Final-Recipient: rfc822; lilei@example.net
Original-Recipient: rfc822;lilei@example.net
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 <lilei@example.net>: Recipient address rejected:
    User unknown

--A1B2C3.1764669490/mx1.example.net
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers

Received: from kefu-notify (kefu-notify [10.0.0.12])
\tby mx1.example.net (Postfix) with ESMTP id A1B2C3
\tfor <lilei@example.net>; Wed,  2 Dec 2026 09:58:07 +0000 (UTC)
From: kefu@support.example.com
To: lilei@example.net
Subject: =?utf-8?b?WyMxMDQyXSDmgqjnmoTlt6XljZXlt7Lmm7TmlrA=?=
Message-ID: <20261202.n-77@mail.support.example.com>
X-Kefu-Notification-Id: n-77

--A1B2C3.1764669490/mx1.example.net--
""".replace(b"\n", b"\r\n")


def test_a_bounce_of_kefus_mail_names_its_ticket() -> None:
    result = not_a_ticket(DSN)  # its subject: "[#1042] 您的工单已更新"
    assert result == NotATicket(
        "bounce", "Content-Type: multipart/report; report-type=delivery-status", "1042"
    )


GMAIL_DSN = f"""\
From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>
To: kefu@support.example.com
Subject: Delivery Status Notification (Failure)
Date: Wed, 02 Dec 2026 01:58:11 -0800 (PST)
Message-ID: <5f1c.170a0220.2c1b@mx.google.com>
MIME-Version: 1.0
Content-Type: multipart/report; boundary="000000000000b2a1"

--000000000000b2a1
Content-Type: text/plain; charset="UTF-8"

The response from the remote server was: 550 5.1.1 The email account does not exist.

--000000000000b2a1
Content-Type: message/delivery-status

Reporting-MTA: dns; googlemail.com
Final-Recipient: rfc822; lilei@example.net
Action: failed
Status: 5.1.1

--000000000000b2a1
Content-Type: message/rfc822

From: kefu@support.example.com
To: lilei@example.net
Subject: Your ticket was updated
Message-ID: {KEFU_MESSAGE_ID}

Hello, an agent answered.

--000000000000b2a1--
""".replace("\n", "\r\n").encode()


def test_a_returned_mail_with_kefus_message_id_names_its_ticket() -> None:
    # no report-type: the delivery-status part says it is a bounce
    assert not_a_ticket(GMAIL_DSN) == NotATicket("bounce", "a message/delivery-status part", "2077")


def test_a_bounce_of_other_mail_names_no_ticket() -> None:
    raw = DSN.replace(
        b"Subject: =?utf-8?b?WyMxMDQyXSDmgqjnmoTlt6XljZXlt7Lmm7TmlrA=?=", b"Subject: hi"
    )
    assert not_a_ticket(raw) == NotATicket(
        "bounce", "Content-Type: multipart/report; report-type=delivery-status"
    )


@pytest.mark.parametrize(
    ("field", "detail"),
    [
        ("From: Kefu Support <KEFU@support.example.com>", "From: KEFU@support.example.com"),
        (f"Message-ID: {KEFU_MESSAGE_ID}", f"Message-ID: {KEFU_MESSAGE_ID}"),
        ("Message-ID: <x1@Support.Example.COM>", "Message-ID: <x1@Support.Example.COM>"),
        ("X-Kefu-Notification-Id: n-77", "X-Kefu-Notification-Id: n-77"),
    ],
)
def test_kefus_own_mail_is_no_ticket(field: str, detail: str) -> None:
    assert not_a_ticket(handwritten(field)) == NotATicket("own_mail", detail)


def test_a_subdomain_of_kefus_is_someone_else() -> None:
    read(handwritten("Message-ID: <x1@mail.support.example.com>"))


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00\xff\xfe garbage \r\n\r\n\x00",
        b"From: \r\n\r\n",
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n' + b"--b\r\n" * 3000,
        b"Subject: no sender\r\n\r\nhello",
    ],
)
def test_bytes_that_are_no_mail_are_unreadable(raw: bytes) -> None:
    assert not_a_ticket(raw).reason == "unreadable"


def test_deeply_nested_parts_never_raise() -> None:
    nested = b"".join(
        f'--b{n}\r\nContent-Type: multipart/mixed; boundary="b{n + 1}"\r\n\r\n'.encode()
        for n in range(3000)
    )
    raw = handwritten('Content-Type: multipart/mixed; boundary="b0"', body=nested)
    assert isinstance(read_mail(raw, OWN, BOUNDS), Mail | NotATicket)


# -- properties ---------------------------------------------------------------------------

PIECES = [
    "=?gb2312?B?",
    "=?utf-8?q?=E4=BD",
    "=?utf-8?B?5L2g?=",
    "?=",
    " ",
    "\t",
    "<",
    ">",
    "@",
    ",",
    ";",
    '"',
    "\\",
    "'",
    "%E4%BD",
    "*0*=",
    "*=utf-8''",
    "filename",
    "name=",
    "charset=",
    "boundary=b",
    "multipart/mixed",
    "message/rfc822",
    "text/html",
    "attachment",
    "base64",
    "quoted-printable",
    "Wed, 2 Dec 2026 09:58:00 +0000",
    "lilei@example.net",
]
PART_VALUES = [
    "text/plain; charset=gb2312",
    'text/html; charset="utf-8"',
    'image/png; name="=?utf-8?B?5oiq5Zu+LnBuZw==?="',
    "message/rfc822",
    'multipart/alternative; boundary="b"',
    "attachment; filename*=utf-8''%E5%8F%91.pdf",
    "inline; filename=../x",
    "base64",
    "quoted-printable",
    "8bit",
]
field_texts = st.lists(
    st.sampled_from(PIECES)
    | st.text(st.characters(codec="utf-8", exclude_characters="\r\n"), max_size=12),
    max_size=8,
).map("".join)
field_values = (
    field_texts.map(str.encode)
    | st.binary(max_size=40).map(lambda value: value.replace(b"\r", b"").replace(b"\n", b""))
    | st.sampled_from(PART_VALUES).map(str.encode)
)
FIELD_NAMES = [
    "Subject",
    "Reply-To",
    "Cc",
    "To",
    "Message-ID",
    "In-Reply-To",
    "References",
    "Date",
    "Received",
    "Content-Type",
    "Content-Disposition",
    "Content-Transfer-Encoding",
]
PART_FIELD_NAMES = FIELD_NAMES[-3:]
BOUNDARY_TYPES = [b"multipart/mixed", b"multipart/alternative", b"multipart/related"]


def fields_bytes(fields: list[tuple[str, bytes]]) -> bytes:
    return b"".join(name.encode() + b": " + value + b"\r\n" for name, value in fields)


@st.composite
def customer_mails(draw: st.DrawFn) -> bytes:
    """A customer's mail (a valid From first) with random fields and, mostly, random parts."""
    multipart = draw(st.sampled_from([None, *BOUNDARY_TYPES]))
    top = b"Content-Type: " + multipart + b'; boundary="b"\r\n' if multipart else b""
    fields = draw(st.lists(st.tuples(st.sampled_from(FIELD_NAMES), field_values), max_size=8))
    part_fields = st.lists(st.tuples(st.sampled_from(PART_FIELD_NAMES), field_values), max_size=3)
    parts = draw(st.lists(st.tuples(part_fields, st.binary(max_size=60)), max_size=4))
    body = b"".join(
        b"--b\r\n" + fields_bytes(part) + b"\r\n" + data + b"\r\n" for part, data in parts
    )
    end = draw(st.sampled_from([b"--b--\r\n", b""]))
    return b"From: lilei@example.net\r\n" + top + fields_bytes(fields) + b"\r\n" + body + end


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(customer_mails())
@example(b"From: lilei@example.net\r\nContent-Type: text/plain; charset=idna\r\n\r\n\xff")
def test_every_customer_mail_becomes_a_message_intake_accepts(raw: bytes) -> None:
    mail = read_mail(raw, OWN, BOUNDS)
    assert isinstance(mail, Mail), mail
    accepted(mail)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400), st.none() | st.text(max_size=30))
def test_read_mail_never_raises(raw: bytes, envelope_from: str | None) -> None:
    result = read_mail(raw, OWN, BOUNDS, envelope_from)
    if isinstance(result, Mail):
        accepted(result)

"""`kefu adapter imap`'s rules without a server: its URL, the order it takes mail in, the mail
it makes of one too large, its backoff, and what a batch marks \\Seen (contract 10)."""

from datetime import UTC, datetime, timedelta, timezone
from email import message_from_bytes
from email.policy import default
from types import SimpleNamespace

import pytest

from kefu.adapters.imap import (
    Backoff,
    MailboxUrl,
    Reader,
    Unseen,
    headers_ticket,
    imap_password,
    mailbox_url,
    received_line,
    unseen_in_order,
)
from kefu.adapters.mailroom import BrokerUnavailable, Taken
from kefu.shared.settings import Settings, SettingsError

LIMIT = 4096


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "imaps://support%40example.com@imap.example.com/INBOX",
            MailboxUrl("imap.example.com", 993, "support@example.com", "INBOX", tls=True),
        ),
        ("imap://kefu@127.0.0.1", MailboxUrl("127.0.0.1", 143, "kefu", "INBOX", tls=False)),
        (
            "imap://kefu@mail.example.com:1143/Support%20Mail",
            MailboxUrl("mail.example.com", 1143, "kefu", "Support Mail", tls=False),
        ),
        (
            "IMAPS://kefu@[::1]:9993/INBOX/Tickets",
            MailboxUrl("::1", 9993, "kefu", "INBOX/Tickets", tls=True),
        ),
    ],
)
def test_the_url_names_the_mailbox(url: str, expected: MailboxUrl) -> None:
    assert mailbox_url(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        None,
        "",
        "https://kefu@imap.example.com/INBOX",
        "imaps://imap.example.com/INBOX",
        "imaps://kefu@/INBOX",
        "imaps://kefu@imap.example.com:99999/INBOX",
        "imaps://kefu:hunter2-secret@imap.example.com/INBOX",
    ],
)
def test_a_bad_url_is_refused_by_its_name_and_never_shown(url: str | None) -> None:
    with pytest.raises(SettingsError, match="KEFU_IMAP_URL") as refused:
        mailbox_url(url)
    assert "hunter2" not in str(refused.value)


def test_the_password_must_be_set() -> None:
    with pytest.raises(SettingsError, match="KEFU_IMAP_PASSWORD"):
        imap_password(Settings(imap_password=None))
    assert imap_password(Settings(imap_password="s3cret-pass")) == "s3cret-pass"


def test_unseen_mail_is_taken_oldest_first_and_an_expunged_one_left_out() -> None:
    arrived = datetime(2026, 12, 2, 9, 30, tzinfo=timezone(timedelta(hours=8)))
    fetched = {
        7: {b"RFC822.SIZE": 300, b"INTERNALDATE": arrived},
        3: {b"RFC822.SIZE": 100, b"INTERNALDATE": arrived},
        5: {b"SEQ": 2},
    }
    assert unseen_in_order(fetched) == [Unseen(3, 100, arrived), Unseen(7, 300, arrived)]


def test_the_received_line_keeps_when_the_mailbox_got_the_mail() -> None:
    arrived = datetime(2026, 12, 2, 9, 30, tzinfo=timezone(timedelta(hours=8)))
    line = received_line(arrived)
    assert line == b"Received: by kefu with IMAP; Wed, 02 Dec 2026 09:30:00 +0800\r\n"
    assert received_line(None) == b""


def test_a_mail_too_large_becomes_a_text_mail_of_its_headers() -> None:
    header = (
        b"From: =?utf-8?b?5byg5LiJ?= <zhang@customer.example>\r\n"
        b"Subject: =?utf-8?b?5Y+R56Wo?=\r\n"
        b"Message-ID: <big@customer.example>\r\n"
        b"References: <a@customer.example>\r\n"
        b"\t<b@customer.example>\r\n"
        b"MIME-Version: 1.0\r\n"
        b"Content-Type: multipart/mixed;\r\n"
        b'\tboundary="===b"\r\n'
        b"Content-Transfer-Encoding: 7bit\r\n"
        b"\r\n"
    )
    made = message_from_bytes(
        headers_ticket(header, 31_457_280, 26_214_400, "INBOX"), policy=default
    )
    assert made.get_content_type() == "text/plain"
    assert made["Subject"] == "发票"
    assert made["Message-ID"] == "<big@customer.example>"
    assert made["References"].split() == ["<a@customer.example>", "<b@customer.example>"]
    assert len(made.get_all("Content-Type")) == 1 and made.get_content_charset() == "utf-8"
    text = made.get_content()
    assert "31,457,280 bytes" in text and "26,214,400 bytes" in text and "INBOX" in text


def test_backoff_doubles_to_a_minute_and_starts_over_after_a_success() -> None:
    backoff = Backoff()
    assert [backoff.next() for _ in range(8)] == [1, 2, 4, 8, 16, 32, 60, 60]
    backoff.reset()
    assert backoff.next() == 1


class FakeMailbox:
    def __init__(self, *mails: tuple[int, bytes]) -> None:
        self.mails = dict(mails)
        self.url = SimpleNamespace(mailbox="INBOX")
        self.seen: list[int] = []
        self.fetched: list[tuple[str, int]] = []

    async def unseen(self) -> list[Unseen]:
        arrived = datetime(2026, 12, 2, tzinfo=UTC)
        return [
            Unseen(uid, len(raw), arrived)
            for uid, raw in sorted(self.mails.items())
            if uid not in self.seen
        ]

    async def whole(self, uid: int) -> bytes:
        self.fetched.append(("whole", uid))
        return self.mails[uid]

    async def header(self, uid: int) -> bytes:
        self.fetched.append(("header", uid))
        return self.mails[uid].split(b"\r\n\r\n")[0] + b"\r\n\r\n"

    async def mark_seen(self, uid: int) -> None:
        self.seen.append(uid)


class FakeRoom:
    """Takes each mail as its Subject says: `published`, `auto_reply`, `broker down` or `bug`."""

    def __init__(self) -> None:
        self.taken: list[bytes] = []

    async def take(self, raw: bytes, envelope_from: str | None = None) -> Taken:
        self.taken.append(raw)
        outcome = message_from_bytes(raw, policy=default)["Subject"]
        if outcome == "broker down":
            raise BrokerUnavailable("KafkaTimeoutError()")
        if outcome == "bug":
            raise OSError("disk full")
        return Taken(outcome)


def mail(subject: str, body: bytes = b"Hello") -> bytes:
    return b"Subject: " + subject.encode() + b"\r\n\r\n" + body


def reader(mailbox: FakeMailbox, room: FakeRoom) -> Reader:
    return Reader(mailbox, room, LIMIT, poll_s=30)  # type: ignore[arg-type]


async def test_published_mail_and_mail_that_is_no_ticket_are_both_marked_seen() -> None:
    mailbox, room = FakeMailbox((4, mail("auto_reply")), (2, mail("published"))), FakeRoom()
    assert await reader(mailbox, room).take_unseen() == 2
    assert mailbox.seen == [2, 4]
    assert room.taken[0].startswith(b"Received: by kefu with IMAP; Wed, 02 Dec 2026 00:00:00")


async def test_when_the_broker_takes_nothing_the_batch_stops_and_the_rest_stays_unseen() -> None:
    mails = (1, mail("published")), (2, mail("broker down")), (3, mail("published"))
    mailbox, room = FakeMailbox(*mails), FakeRoom()
    with pytest.raises(BrokerUnavailable):
        await reader(mailbox, room).take_unseen()
    assert mailbox.seen == [1]
    assert len(room.taken) == 2


async def test_a_mail_the_mailroom_fails_on_stays_unseen_and_the_batch_goes_on() -> None:
    mailbox, room = FakeMailbox((1, mail("bug")), (2, mail("published"))), FakeRoom()
    assert await reader(mailbox, room).take_unseen() == 1
    assert mailbox.seen == [2]


async def test_a_mail_too_large_is_read_by_its_headers_only() -> None:
    large = mail("published", b"x" * LIMIT)
    mailbox, room = FakeMailbox((9, large)), FakeRoom()
    assert await reader(mailbox, room).take_unseen() == 1
    assert mailbox.fetched == [("header", 9)] and mailbox.seen == [9]
    text = message_from_bytes(room.taken[0], policy=default).get_content()
    assert f"{len(large):,} bytes" in text

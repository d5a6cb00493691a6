"""`kefu adapter imap`: reads the mailbox KEFU_IMAP_URL (contract 10). Each unseen mail, oldest
first, goes to the mailroom, and only once it is taken (published, or known to be no ticket)
is it marked \\Seen; while the broker cannot take mail the rest stay unseen for the next try.
A mail over KEFU_MAX_MAIL_BYTES is not fetched whole: its ticket is made from its headers
and says so. Between batches it waits with IDLE where the server has it, else polls every
KEFU_IMAP_POLL; a dropped connection is opened again with backoff."""

import asyncio
import contextvars
import select
import ssl
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from functools import partial
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

from faststream.asgi import AsgiFastStream
from imapclient import SEEN, IMAPClient, SocketTimeout
from imapclient.exceptions import IMAPClientError

from kefu.adapters.mailroom import BrokerUnavailable, Mailroom, mail_adapter
from kefu.shared.logs import get_logger
from kefu.shared.settings import Settings, SettingsError

log = get_logger("kefu.adapters.imap")
DEFAULT_PORTS = {"imap": 143, "imaps": 993}
CONNECT_TIMEOUT_S = 15
READ_TIMEOUT_S = 60
IDLE_RENEW_S = 29 * 60  # RFC 2177: servers may drop a client idle for 30 minutes
IDLE_SLICE_S = 1.0  # how long a stop may wait for the IMAP thread to come back
FIRST_RETRY_S, LAST_RETRY_S = 1.0, 60.0
CONNECTION_ERRORS = (IMAPClientError, OSError)  # imaplib's error and abort; socket and TLS
CONTENT_FIELDS = (b"content-type:", b"content-transfer-encoding:", b"content-disposition:")
TOO_LARGE = (
    "(kefu) This mail was {size:,} bytes, more than the {limit:,} bytes kefu takes "
    "(KEFU_MAX_MAIL_BYTES): only its headers were read. The whole mail stays in the "
    "mailbox, in {mailbox}."
)
Result = TypeVar("Result")


@dataclass(frozen=True)
class MailboxUrl:
    host: str
    port: int
    user: str
    mailbox: str
    tls: bool  # imaps: TLS from the start; imap: STARTTLS when the server offers it


def mailbox_url(url: str | None) -> MailboxUrl:
    """KEFU_IMAP_URL, `imap[s]://user@host[:port][/mailbox]` with the user percent-encoded."""
    if not url:
        raise SettingsError(
            "KEFU_IMAP_URL must name the mailbox to read: "
            "imaps://support%40example.com@imap.example.com/INBOX"
        )
    parts = urlsplit(url)
    if parts.scheme not in DEFAULT_PORTS:
        raise _bad_url("must start with imap:// or imaps://")
    if parts.password is not None:
        raise _bad_url("the password goes in KEFU_IMAP_PASSWORD, not in the URL")
    if not parts.username or not parts.hostname:
        raise _bad_url("must name the user and the host: imaps://user%40example.com@host")
    try:
        port = parts.port or DEFAULT_PORTS[parts.scheme]
    except ValueError:
        raise _bad_url("its port must be a number from 1 to 65535") from None
    return MailboxUrl(
        host=parts.hostname,
        port=port,
        user=unquote(parts.username),
        mailbox=unquote(parts.path.removeprefix("/")) or "INBOX",
        tls=parts.scheme == "imaps",
    )


def _bad_url(problem: str) -> SettingsError:
    return SettingsError(f"KEFU_IMAP_URL: {problem}")  # never the URL: it may hold a secret


def imap_password(settings: Settings) -> str:
    password = settings.imap_password.get_secret_value() if settings.imap_password else ""
    if not password:
        raise SettingsError("KEFU_IMAP_PASSWORD must be set: the password of KEFU_IMAP_URL's user")
    return password


@dataclass(frozen=True)
class Unseen:
    uid: int
    size: int  # RFC822.SIZE
    arrived: datetime | None  # INTERNALDATE: when the mailbox got it


def unseen_in_order(fetched: Mapping[int, Mapping[bytes, Any]]) -> list[Unseen]:
    """The unseen mails a FETCH of RFC822.SIZE and INTERNALDATE described, oldest (lowest
    UID) first; one expunged in the meantime has no size and is left out."""
    return [
        Unseen(uid, data[b"RFC822.SIZE"], data.get(b"INTERNALDATE"))
        for uid, data in sorted(fetched.items())
        if b"RFC822.SIZE" in data
    ]


def received_line(arrived: datetime | None) -> bytes:
    """What the SMTP adapter adds too: the parser dates the message from its first Received
    line, so mail that waited in the mailbox keeps the time it came."""
    if arrived is None:
        return b""
    return f"Received: by kefu with IMAP; {format_datetime(arrived)}\r\n".encode()


def headers_ticket(header: bytes, size: int, limit: int, mailbox: str) -> bytes:
    """A mail too large to take, made of its headers and a text that says so: the customer
    still gets a ticket, and its agent knows where the whole mail is."""
    fields = [
        field for field in header_fields(header) if not field.lower().startswith(CONTENT_FIELDS)
    ]
    note = TOO_LARGE.format(size=size, limit=limit, mailbox=mailbox)
    body = b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    return b"".join(fields) + body + note.encode() + b"\r\n"


def header_fields(header: bytes) -> list[bytes]:
    """Each header field with its folded lines, every line ending in CRLF."""
    fields: list[bytes] = []
    for line in header.splitlines():
        if not line.strip():
            break
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += line + b"\r\n"
        else:
            fields.append(line + b"\r\n")
    return fields


class Backoff:
    """Waits that double from the first to the last, and start over after a success."""

    def __init__(self, first_s: float = FIRST_RETRY_S, last_s: float = LAST_RETRY_S) -> None:
        self.first_s, self.last_s = first_s, last_s
        self._next_s = first_s

    def next(self) -> float:
        wait_s, self._next_s = self._next_s, min(self._next_s * 2, self.last_s)
        return wait_s

    def reset(self) -> None:
        self._next_s = self.first_s


class Mailbox:
    """The one connection to the mailbox. IMAPClient blocks, so every call runs on this
    mailbox's one thread: never two at once on the connection, even when a stop cancels the
    task that was waiting for a call."""

    def __init__(self, url: MailboxUrl, password: str) -> None:
        self.url, self._password = url, password
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="imap")
        self._client: IMAPClient | None = None
        self._idling = False
        self.can_idle = False

    @property
    def connected(self) -> bool:
        return self._client is not None

    async def _call(self, call: Callable[..., Result], *args: Any) -> Result:
        in_context = partial(contextvars.copy_context().run, call, *args)  # its log lines too
        return await asyncio.get_running_loop().run_in_executor(self._thread, in_context)

    async def open(self) -> None:
        self._client, self.can_idle = await self._call(self._connect)

    def _connect(self) -> tuple[IMAPClient, bool]:
        tls = ssl.create_default_context()
        client = IMAPClient(
            self.url.host,
            self.url.port,
            ssl=self.url.tls,
            ssl_context=tls,
            timeout=SocketTimeout(CONNECT_TIMEOUT_S, READ_TIMEOUT_S),
        )
        client.normalise_times = False  # INTERNALDATE with its zone
        try:
            if not self.url.tls:
                self._starttls(client, tls)
            client.login(self.url.user, self._password)
            client.select_folder(self.url.mailbox)
            return client, client.has_capability("IDLE")
        except BaseException:
            _quietly(client.shutdown)
            raise

    def _starttls(self, client: IMAPClient, tls: ssl.SSLContext) -> None:
        if client.has_capability("STARTTLS"):
            client.starttls(tls)
        else:
            log.warning("the IMAP server offers no STARTTLS: the password goes in the clear")

    def _connection(self) -> IMAPClient:
        if self._client is None:
            raise ConnectionError("the mailbox is not open")
        return self._client

    async def unseen(self) -> list[Unseen]:
        return await self._call(self._unseen)

    def _unseen(self) -> list[Unseen]:
        client = self._connection()
        uids = client.search(["UNSEEN"])
        return unseen_in_order(client.fetch(uids, ["RFC822.SIZE", "INTERNALDATE"]) if uids else {})

    async def whole(self, uid: int) -> bytes | None:
        """The mail, without setting \\Seen; None when it was expunged in the meantime."""
        return await self._call(self._part, uid, "BODY.PEEK[]", b"BODY[]")

    async def header(self, uid: int) -> bytes | None:
        return await self._call(self._part, uid, "BODY.PEEK[HEADER]", b"BODY[HEADER]")

    def _part(self, uid: int, item: str, key: bytes) -> bytes | None:
        return self._connection().fetch([uid], [item]).get(uid, {}).get(key)

    async def mark_seen(self, uid: int) -> None:
        await self._call(lambda: self._connection().add_flags([uid], [SEEN], silent=True))

    async def wait_for_news(self, poll_s: float) -> None:
        """Until the server tells of a change (IDLE), or for `poll_s`. IDLE ends after
        `poll_s` too (and at the latest after 29 minutes): a notice that came in the same
        packet as the server's answer to IDLE sits in imaplib's buffer, which no wait sees,
        so the next search finds that mail."""
        if not self.can_idle:
            await asyncio.sleep(poll_s)
            return
        self._idling = True  # from before the command: a stop meanwhile must end it
        await self._call(self._connection().idle)
        deadline = asyncio.get_running_loop().time() + min(poll_s, IDLE_RENEW_S)
        while asyncio.get_running_loop().time() < deadline:
            if await self._call(self._idle_slice):
                break
        await self._call(self._connection().idle_done)
        self._idling = False

    def _idle_slice(self) -> bool:
        """Whether the server said something within a slice. A socket that is readable with
        nothing to read was closed."""
        client = self._connection()
        if not select.select([client.socket()], [], [], IDLE_SLICE_S)[0]:
            return False
        if client.idle_check(0):
            return True
        raise ConnectionError("the IMAP server closed the connection")

    async def drop(self) -> None:
        """Forget a broken connection."""
        client, self._client, self._idling = self._client, None, False
        if client is not None:
            await self._call(_quietly, client.shutdown)

    async def close(self) -> None:
        """IDLE done and LOGOUT, as a stop should; a broken connection is just dropped."""
        client, self._client = self._client, None
        if client is not None:
            if self._idling:
                await self._call(_quietly, client.idle_done)
            await self._call(_quietly, client.logout)
        self._thread.shutdown()


def _quietly(call: Callable[[], object]) -> None:
    try:
        call()
    except Exception as error:  # the connection is going anyway
        log.debug("imap connection closed uncleanly", error=repr(error))


class Reader:
    """The mailbox read in a loop, forever: a batch of unseen mail, then a wait for news."""

    def __init__(self, mailbox: Mailbox, room: Mailroom, max_mail_bytes: int, poll_s: float):
        self.mailbox, self.room = mailbox, room
        self.max_mail_bytes, self.poll_s = max_mail_bytes, poll_s

    async def run(self) -> None:
        backoff = Backoff()
        while True:
            try:
                await self.mailbox.open()
                log.info("imap mailbox open", mailbox=self.mailbox.url.mailbox)
                backoff.reset()
                await self._read()
            except CONNECTION_ERRORS as error:
                wait_s = backoff.next()
                log.warning(
                    "imap connection failed; reconnecting", wait_s=wait_s, error=repr(error)
                )
            except Exception:
                wait_s = backoff.next()
                log.exception("imap reader failed; reconnecting", wait_s=wait_s)
            await self.mailbox.drop()
            await asyncio.sleep(wait_s)

    async def _read(self) -> None:
        broker = Backoff()
        while True:
            try:
                taken = await self.take_unseen()
            except BrokerUnavailable as error:
                wait_s = broker.next()
                log.warning(
                    "the broker took no mail; it stays unseen", wait_s=wait_s, error=str(error)
                )
                await asyncio.sleep(wait_s)
                continue
            broker.reset()
            if not taken:  # a batch that took mail may have missed news: look again first
                await self.mailbox.wait_for_news(self.poll_s)

    async def take_unseen(self) -> int:
        """Each unseen mail to the mailroom, oldest first, marked \\Seen once it is taken;
        how many were. BrokerUnavailable stops the batch, and what is left stays unseen."""
        taken = 0
        for mail in await self.mailbox.unseen():
            raw = await self._raw(mail)
            if raw is not None and await self._taken(mail.uid, raw):
                await self.mailbox.mark_seen(mail.uid)
                taken += 1
        return taken

    async def _raw(self, mail: Unseen) -> bytes | None:
        if mail.size <= self.max_mail_bytes:
            raw = await self.mailbox.whole(mail.uid)
        else:
            log.warning(
                "mail over KEFU_MAX_MAIL_BYTES: its ticket is made from its headers",
                uid=mail.uid,
                size=mail.size,
            )
            header = await self.mailbox.header(mail.uid)
            raw = header and headers_ticket(
                header, mail.size, self.max_mail_bytes, self.mailbox.url.mailbox
            )
        return raw and received_line(mail.arrived) + raw

    async def _taken(self, uid: int, raw: bytes) -> bool:
        """Whether the mailroom took the mail. One it fails on for another reason than the
        broker stays unseen, to be tried again after the next news, and the batch goes on."""
        try:
            await self.room.take(raw)
        except BrokerUnavailable:
            raise
        except Exception:
            log.exception("mail not taken; it stays unseen", uid=uid)
            return False
        return True


def build(settings: Settings) -> AsgiFastStream:
    mailbox = Mailbox(mailbox_url(settings.imap_url), imap_password(settings))

    async def read(room: Mailroom) -> Callable[[], Awaitable[None]]:
        poll_s = settings.imap_poll.total_seconds()
        task = asyncio.create_task(Reader(mailbox, room, settings.max_mail_bytes, poll_s).run())

        async def stop() -> None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await mailbox.close()

        return stop

    return mail_adapter("adapter-imap", settings, read, ready=lambda: mailbox.connected)

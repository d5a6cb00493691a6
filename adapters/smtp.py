"""`kefu adapter smtp`: an SMTP server (aiosmtpd) for the company's support mail, its MX or a
forwarding rule (contract 10). Each mail is answered 250 only once the broker acknowledged its
message on `channel.inbound`; 452 while the broker cannot take it, so the sending server keeps
the mail and tries again; 552 over KEFU_MAX_MAIL_BYTES. STARTTLS when KEFU_MAIL_IN_CERTFILE
names a certificate."""

import asyncio
import ssl
from collections.abc import Awaitable, Callable
from email.utils import formatdate

from aiosmtpd.smtp import SMTP, Envelope, Session
from faststream.asgi import AsgiFastStream

from kefu.adapters.mailroom import BrokerUnavailable, Mailroom, mail_adapter
from kefu.shared.logs import get_logger
from kefu.shared.settings import Settings

log = get_logger("kefu.adapters.smtp")
SERVER_NAME = "kefu"
TAKEN = "250 2.0.0 OK: taken"
TRY_LATER = "452 4.3.1 kefu cannot take mail right now; try again later"


class Handler:
    """aiosmtpd's DATA hook: the mail, with the Received line kefu adds, to the mailroom."""

    def __init__(self, room: Mailroom) -> None:
        self.room = room

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = received_line(session) + (envelope.original_content or b"")
        try:
            taken = await self.room.take(raw, envelope.mail_from or None)
        except BrokerUnavailable as error:
            log.warning("mail refused for now: the broker did not take it", error=str(error))
            return TRY_LATER
        return TAKEN if taken.outcome == "published" else f"{TAKEN} ({taken.outcome})"


def received_line(session: Session) -> bytes:
    """What every MTA prepends (RFC 5321 4.4): the parser dates the message from it."""
    peer = session.peer[0] if isinstance(session.peer, tuple) else "unknown"
    helo = session.host_name or "unknown"
    line = f"Received: from {helo} ([{peer}]) by {SERVER_NAME} with ESMTP; {formatdate()}\r\n"
    return line.encode("ascii", "replace")


def tls_context(settings: Settings) -> ssl.SSLContext | None:
    if settings.mail_in_certfile is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(settings.mail_in_certfile, settings.mail_in_keyfile)
    return context


def build(settings: Settings, host: str, port: int) -> AsgiFastStream:
    tls = tls_context(settings)

    async def serve(room: Mailroom) -> Callable[[], Awaitable[None]]:
        def protocol() -> SMTP:
            return SMTP(
                Handler(room),
                data_size_limit=settings.max_mail_bytes,
                enable_SMTPUTF8=True,
                hostname=SERVER_NAME,
                tls_context=tls,
                ident="kefu ESMTP",
            )

        server = await asyncio.get_running_loop().create_server(protocol, host, port)
        log.info("smtp adapter listening", host=host, port=port, starttls=tls is not None)

        async def stop() -> None:
            server.close()
            await server.wait_closed()

        return stop

    return mail_adapter("adapter-smtp", settings, serve)

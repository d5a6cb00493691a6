"""Where notifications go: SMTP (aiosmtplib, a few reused connections), an HTTP SMS gateway
and webhooks (httpx). Each send ends in an `Outcome` that says whether trying again may help:
timeouts, connection errors, SMTP 4xx, HTTP 408, 429 and 5xx may (429 and 503 honour
Retry-After); SMTP 5xx, other HTTP 4xx and a refused private destination (contract 11) will
not."""

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.message import Message
from email.utils import parsedate_to_datetime

import aiosmtplib
import httpx

from kefu.services.notify.signing import webhook_signature
from kefu.shared.destinations import private_destination
from kefu.shared.policy import SmsGateway, Webhook
from kefu.shared.settings import Settings, SettingsError

SMTP_CONNECTIONS = 2
Commit = Callable[[], Awaitable[bool]]
HTTP_TIMEOUT_S = 5.0  # well inside the timers' lease


@dataclass(frozen=True)
class Outcome:
    sent: bool
    provider_id: str | None = None
    error: str | None = None
    transient: bool = False
    retry_after_s: float | None = None
    elsewhere: bool = False  # another replica handed it over first: nothing to record here


class HandedOverElsewhere(Exception):
    """The notification's document was no longer pending when this replica came to hand
    its content over (its lease ran out while the store or the server was slow)."""


def failed(error: str, transient: bool, retry_after_s: float | None = None) -> Outcome:
    return Outcome(False, error=error[:500], transient=transient, retry_after_s=retry_after_s)


class Mailer:
    """SMTP with STARTTLS and auth from settings; connections are kept and reused."""

    def __init__(self, settings: Settings, connections: int = SMTP_CONNECTIONS) -> None:
        self.settings = settings
        self._idle: asyncio.Queue[aiosmtplib.SMTP] = asyncio.Queue()
        for _ in range(connections):
            self._idle.put_nowait(self._client())

    def _client(self) -> aiosmtplib.SMTP:
        s = self.settings
        return aiosmtplib.SMTP(
            hostname=s.smtp_host,
            port=s.smtp_port,
            start_tls=s.smtp_starttls,
            username=s.smtp_username,
            password=s.smtp_password.get_secret_value() if s.smtp_password else None,
            timeout=HTTP_TIMEOUT_S,
        )

    async def send(self, message: Message, recipient: str, committing: Commit) -> Outcome:
        """One mail. `committing` runs after the server said it is ready for the content
        and before the content goes: once it has run, the mail counts as handed over (a
        process killed after it still has the content flushed by the kernel), and before
        it the server has nothing it would deliver. When it says another replica has
        handed it over, the connection is dropped mid-DATA and the server discards it."""
        client = await self._idle.get()
        try:
            if not client.is_connected:
                await client.connect()
            await client.mail(self.settings.mail_from)
            await client.rcpt(
                str(message["To"]).rpartition("<")[2].rstrip(">") or str(message["To"])
            )
            await _data(client, _content(message), committing)
        except HandedOverElsewhere:
            client.close()
            return Outcome(False, elsewhere=True)
        except aiosmtplib.SMTPResponseException as error:
            await _reset(client)
            return failed(f"SMTP {error.code} {error.message}", transient=400 <= error.code < 500)
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
            await _close(client)
            return failed(f"SMTP {type(error).__name__}: {error}", transient=True)
        finally:
            self._idle.put_nowait(client)
        return Outcome(True, provider_id=message["Message-ID"])

    async def close(self) -> None:
        while not self._idle.empty():
            await _close(self._idle.get_nowait())


def _content(message: Message) -> bytes:
    """The DATA content with its end mark: CRLF lines (the message's policy, compose.py),
    leading dots doubled (RFC 5321)."""
    data = message.as_bytes()
    data = re.sub(rb"(?m)^\.", b"..", data)
    return (data if data.endswith(b"\r\n") else data + b"\r\n") + b".\r\n"


async def _data(client: aiosmtplib.SMTP, content: bytes, committing: Commit) -> None:
    """aiosmtplib's DATA exchange (`SMTPProtocol.execute_data_command`), with `committing`
    between the server's 354 and the content, so that nothing but a socket write lies
    between the mark and the mail. It uses the protocol's command lock and reply flag as
    that method does (aiosmtplib 5.x; tests/integration/test_notify.py covers it)."""
    protocol = client.protocol
    if protocol is None or protocol._command_lock is None:
        raise aiosmtplib.SMTPServerDisconnected("Server not connected")
    async with protocol._command_lock:
        protocol._response_pending = True
        protocol.write(b"DATA\r\n")
        ready = await protocol.read_response(timeout=client.timeout)
        if ready.code != 354:
            raise aiosmtplib.SMTPDataError(ready.code, ready.message)
        if not await committing():
            raise HandedOverElsewhere()
        protocol._response_pending = True
        protocol.write(content)
        done = await protocol.read_response(timeout=client.timeout)
    if done.code != 250:
        raise aiosmtplib.SMTPDataError(done.code, done.message)


async def _reset(client: aiosmtplib.SMTP) -> None:
    """After a refusal the transaction is abandoned; the connection stays."""
    try:
        await client.rset()
    except (aiosmtplib.SMTPException, OSError, TimeoutError):
        await _close(client)


async def _close(client: aiosmtplib.SMTP) -> None:
    if client.is_connected:
        try:
            await client.quit()
        except (aiosmtplib.SMTPException, OSError, TimeoutError):
            client.close()


class Web:
    """The SMS gateway (form POST, E.164 with the `+`, bearer token) and webhooks."""

    def __init__(self, settings: Settings, sms_gateway: SmsGateway) -> None:
        self.settings = settings
        self.sms_gateway = sms_gateway
        self.client = httpx.AsyncClient(timeout=HTTP_TIMEOUT_S)

    async def sms(self, to: str, body: str) -> Outcome:
        if not self.settings.sms_url:
            return failed("KEFU_SMS_URL is not set", transient=False)
        token = self.settings.sms_token
        headers = {"Authorization": f"Bearer {token.get_secret_value()}"} if token else {}
        return await self._post(
            self.settings.sms_url,
            self.sms_gateway.allow_private,
            data={"to": to, "body": body},
            headers=headers,
        )

    async def webhook(self, hook: Webhook, body: str, event_id: str) -> Outcome:
        raw = body.encode()
        headers = {
            "Content-Type": "application/cloudevents+json",
            "Kefu-Event-Id": event_id,
            "Kefu-Signature": webhook_signature(hook.secret, raw, int(time.time())),
        }
        return await self._post(hook.url, hook.allow_private, content=raw, headers=headers)

    async def _post(self, url: str, allow_private: bool, **request: object) -> Outcome:
        # checked at every send: the name's answer may have changed since start
        if not allow_private and (refused := await asyncio.to_thread(private_destination, url)):
            return failed(f"not sent: {refused} (contract 11)", transient=False)
        try:
            reply = await self.client.post(url, **request)  # type: ignore[arg-type]
        except httpx.HTTPError as error:
            return failed(f"{type(error).__name__}: {error}", transient=True)
        if reply.is_success:
            return Outcome(True, provider_id=_provider_id(reply))
        status = reply.status_code
        transient = status in (408, 429) or status >= 500
        wait = _retry_after(reply.headers.get("Retry-After")) if status in (429, 503) else None
        return failed(f"HTTP {status}: {reply.text[:200]}", transient, wait)

    async def close(self) -> None:
        await self.client.aclose()


def check_sms_gateway(settings: Settings, gateway: SmsGateway) -> None:
    """At start: KEFU_SMS_URL may go to a private address only if the policy allows it."""
    if not settings.sms_url or gateway.allow_private:
        return
    try:
        refused = private_destination(settings.sms_url)
    except ValueError as error:
        raise SettingsError(f"KEFU_SMS_URL: {error}") from None
    if refused:
        raise SettingsError(
            f"KEFU_SMS_URL: {refused}; the policy's `notify.sms_gateway: "
            "{allow_private: true}` allows it"
        )


def _provider_id(reply: httpx.Response) -> str | None:
    try:
        found = reply.json()
    except ValueError:
        return reply.headers.get("X-Request-Id")
    return (
        str(found.get("id") or found.get("sid") or "") or None if isinstance(found, dict) else None
    )


def _retry_after(value: str | None) -> float | None:
    """Seconds, or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None

"""Where both mail adapters hand a received mail (contract 10): read once by the one parser,
its attachments stored, published to `channel.inbound` and acknowledged by the broker; or,
when it is no customer's message (an auto-reply, a bounce, kefu's own mail), counted and
logged with the reason. The adapters tell their sender "taken" only after `take` returns."""

import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka.errors import KafkaError
from faststream.asgi import AsgiFastStream
from prometheus_client import CollectorRegistry, Counter
from pydantic import ValidationError

from kefu.adapters.attachments import AttachmentStore, attachment_store
from kefu.adapters.mail import File, Mail, NotATicket, OwnMail, read_mail
from kefu.shared.bus import Bus, make_broker
from kefu.shared.failures import problems
from kefu.shared.inbound import TimeBounds, decode_channel_message
from kefu.shared.logs import configure_logging, get_logger
from kefu.shared.service import ServiceApp, probe_routes
from kefu.shared.settings import Settings
from kefu.shared.topics import Topic

log = get_logger("kefu.adapters.mail")
ACK_WAIT_S = 15  # an SMTP client waits minutes; a 452 sooner lets it retry sooner


class BrokerUnavailable(Exception):
    """The broker did not acknowledge the message: the caller keeps the mail and retries."""


@dataclass(frozen=True)
class Taken:
    outcome: str  # "published", or why it is not a ticket (NotATicket.reason)
    message_id: str | None = None


class Mailroom:
    def __init__(
        self, bus: Bus, settings: Settings, store: AttachmentStore | None, counted: Counter
    ) -> None:
        self.bus, self.store, self.counted = bus, store, counted
        self.own, self.bounds = OwnMail.of(settings), TimeBounds.of(settings)

    async def take(self, raw: bytes, envelope_from: str | None = None) -> Taken:
        read = read_mail(raw, self.own, self.bounds, envelope_from)
        if isinstance(read, NotATicket):
            return self._not_a_ticket(read)
        payload = json.dumps(await self._stored(read), ensure_ascii=False).encode()
        try:
            message = decode_channel_message(payload, self.bounds)
        except ValidationError as error:
            return self._not_a_ticket(NotATicket("unreadable", str(problems(error))))
        try:
            await asyncio.wait_for(
                self.bus.forward(Topic.CHANNEL_INBOUND, payload, message.partition_key()),
                ACK_WAIT_S,
            )
        except (KafkaError, TimeoutError) as error:
            raise BrokerUnavailable(repr(error)) from None
        self.counted.labels("published").inc()
        log.info("mail published", message_id=message.message_id, sender=message.sender.address)
        return Taken("published", message.message_id)

    async def _stored(self, mail: Mail) -> dict[str, Any]:
        """The message with each attachment's url where its bytes now are ("" when kefu keeps
        no attachments)."""
        message_id, names = mail.message["message_id"], stored_names(mail.files)
        urls = [
            await self._store(message_id, name, file)
            for name, file in zip(names, mail.files, strict=True)
        ]
        attachments = [
            {**meta, "url": url}
            for meta, url in zip(mail.message.get("attachments", []), urls, strict=True)
        ]
        return {**mail.message, "attachments": attachments}

    async def _store(self, message_id: str, name: str, file: File) -> str:
        if self.store is None:
            log.info("attachment dropped: KEFU_ATTACHMENTS_URL is unset", file=file.filename)
            return ""
        return await self.store.put(message_id, name, file.content_type, file.data)

    def _not_a_ticket(self, why: NotATicket) -> Taken:
        self.counted.labels(why.reason).inc()
        log.info(
            "mail is not a ticket", reason=why.reason, detail=why.detail, ticket_id=why.ticket_id
        )
        return Taken(why.reason)


def stored_names(files: Sequence[File]) -> list[str]:
    """Each file's name in the store: two attachments of one mail named alike (image.png from
    a phone) get the second one's place in front, so neither overwrites the other."""
    names: list[str] = []
    for place, file in enumerate(files, 1):
        names.append(file.filename if file.filename not in names else f"{place}-{file.filename}")
    return names


def mail_counter(registry: CollectorRegistry) -> Counter:
    return Counter(
        "kefu_mail_taken",
        "Mails an adapter took, by outcome: published, or why it is no ticket (auto_reply, "
        "bounce, own_mail, unreadable)",
        ["outcome"],
        registry=registry,
    )


def mail_adapter(
    name: str,
    settings: Settings,
    starting: Callable[[Mailroom], Awaitable[Callable[[], Awaitable[None]]]],
    ready: Callable[[], bool] = lambda: True,
) -> AsgiFastStream:
    """An adapter's process: /healthz, /readyz (the broker, and `ready`), /metrics, and the
    mail server or reader that `starting` starts once the bus is up (it returns its stop)."""
    configure_logging(settings.log_level, settings.log_format, service=name)
    registry, broker = CollectorRegistry(), make_broker(settings, name)
    bus = Bus(broker, settings, name)
    bus.declare_forwards(Topic.CHANNEL_INBOUND)
    room = Mailroom(bus, settings, attachment_store(settings), mail_counter(registry))
    stops: list[Callable[[], Awaitable[None]]] = []

    async def start() -> None:
        stops.append(await starting(room))

    async def stop() -> None:
        for each in stops:
            await each()

    async def is_ready() -> bool:
        return ready() and await broker.ping(timeout=2.0)

    return ServiceApp(
        broker,
        asgi_routes=probe_routes(is_ready, registry),
        on_startup=[bus.start, start],
        on_shutdown=[stop],
        after_shutdown=[bus.stop],
        logger=get_logger("faststream.app"),
    )

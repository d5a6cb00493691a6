"""Kafka through FastStream: the broker factory, CloudEvents publishing and guarded consumers."""

import asyncio
import contextlib
import logging
import ssl
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiokafka import AIOKafkaProducer, ConsumerRebalanceListener
from aiokafka.errors import IllegalStateError
from aiokafka.helpers import create_ssl_context
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.publisher.usecase import LogicPublisher
from faststream.message import StreamMessage
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

from kefu.shared.consumer import BatchConsumer, Decode, Handle
from kefu.shared.events import CloudEvent
from kefu.shared.events.schema import envelope_schema
from kefu.shared.inbound import inbound_schema
from kefu.shared.logs import get_logger
from kefu.shared.settings import Settings, SettingsError
from kefu.shared.topics import Topic, topic_name
from kefu.shared.tracing import Tracing, trace_headers, tracer_for

if TYPE_CHECKING:
    from kefu.shared.metrics import Metrics

CLOUDEVENTS_CONTENT_TYPE = b"application/cloudevents+json"
PRODUCER_BATCH_BYTES = 256 * 1024
# A batch is whatever the consumer has fetched, up to this many records; a lone record goes
# through at once (getmany returns as soon as anything is buffered).
BATCH_MAX_RECORDS = 500
BATCH_TIMEOUT_MS = 20
# how long the services off the path a customer waits on gather a batch (`consume`)
GATHER_S = 0.5
log = get_logger("kefu.bus")
_SASL = {"PLAIN": SASLPlaintext, "SCRAM-SHA-256": SASLScram256, "SCRAM-SHA-512": SASLScram512}


def tls_context(settings: Settings) -> ssl.SSLContext | None:
    """The brokers' CA (else the system's) and, for mTLS, the client's certificate and key."""
    if not settings.kafka_security_protocol.endswith("SSL"):
        return None
    try:
        return create_ssl_context(
            cafile=settings.kafka_ssl_cafile,
            certfile=settings.kafka_ssl_certfile,
            keyfile=settings.kafka_ssl_keyfile,
        )
    except (ssl.SSLError, OSError) as error:
        raise SettingsError(f"KEFU_KAFKA_SSL_*: cannot load the PEM files: {error}") from None


def kafka_security(settings: Settings) -> BaseSecurity | None:
    protocol = settings.kafka_security_protocol
    tls = tls_context(settings)
    if protocol.startswith("SASL"):
        mechanism = settings.kafka_sasl_mechanism or "PLAIN"
        password = settings.kafka_sasl_password
        return _SASL[mechanism](
            username=settings.kafka_sasl_username or "",
            password=password.get_secret_value() if password else "",
            ssl_context=tls,
            use_ssl=tls is not None,
        )
    return BaseSecurity(ssl_context=tls, use_ssl=True) if tls else None


def client_options(settings: Settings) -> dict[str, Any]:
    """Connection options for aiokafka's own clients (producer, admin)."""
    security = kafka_security(settings)
    password = settings.kafka_sasl_password
    return {
        "bootstrap_servers": settings.kafka_bootstrap,
        "security_protocol": settings.kafka_security_protocol,
        "ssl_context": security.ssl_context if security else None,
        "sasl_mechanism": settings.kafka_sasl_mechanism or "PLAIN",
        "sasl_plain_username": settings.kafka_sasl_username,
        "sasl_plain_password": password.get_secret_value() if password else None,
    }


def make_broker(settings: Settings, service: str) -> KafkaBroker:
    return KafkaBroker(
        settings.kafka_bootstrap,
        client_id=f"kefu-{service}",
        security=kafka_security(settings),
        acks="all",
        graceful_timeout=10.0,
        logger=get_logger("faststream"),
        log_level=logging.DEBUG,
        description=f"kefu {service}",
        # Handlers get the batch's raw records and decode each one themselves, so that one
        # bad record is dead-lettered alone; their annotations only document the payloads.
        apply_types=False,
    )


async def raw_records(message: StreamMessage[Any]) -> Any:
    return message.raw_message


class Bus:
    """One service's view of Kafka: its consumer group, its guarded subscribers, its publishers."""

    def __init__(
        self,
        broker: KafkaBroker,
        settings: Settings,
        service: str,
        metrics: "Metrics | None" = None,
    ) -> None:
        self.broker = broker
        self.settings = settings
        self.service = service
        self.metrics = metrics
        self.tracing = Tracing(service, tracer_for(service))
        self._publishers: dict[str, LogicPublisher] = {}
        self._producer: AIOKafkaProducer | None = None
        self.handing_over: list[Callable[[], Awaitable[None]]] = []  # before partitions leave
        # this replica's consumer holds every partition of what it reads: no other replica
        # of the service decides on the documents its consumer writes
        self.holds_every_partition = False
        self.declare_publishes(Topic.DLQ)

    async def start(self) -> None:
        """The producer events go out through. aiokafka's own: FastStream's publishers run
        their middlewares once per message, which cost a third of intake's CPU under load;
        they stay declared, for the AsyncAPI document."""
        self._producer = AIOKafkaProducer(
            **client_options(self.settings),
            client_id=f"kefu-{self.service}",
            acks="all",
            max_batch_size=PRODUCER_BATCH_BYTES,
        )
        await self._producer.start()

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()  # sends what is still buffered
            self._producer = None

    @property
    def group_id(self) -> str:
        return f"{self.settings.topic_prefix}{self.service}"

    def topic(self, topic: Topic) -> str:
        return topic_name(self.settings.topic_prefix, topic)

    def declare_publishes(self, *topics: Topic) -> None:
        """Register publishers up front so that the AsyncAPI document lists what we write."""
        for topic in topics:
            self._declare(
                topic, envelope_schema(topic), f"CloudEvents written by kefu/{self.service}"
            )

    def declare_forwards(self, *topics: Topic) -> None:
        """Publishers for inbound topics, which carry the outside producers' plain JSON."""
        for topic in topics:
            self._declare(
                topic,
                inbound_schema(topic),
                f"inbound payloads accepted over HTTP by kefu/{self.service}",
            )

    def _declare(self, topic: Topic, schema: Any, description: str) -> None:
        name = self.topic(topic)
        if name not in self._publishers:
            self._publishers[name] = self.broker.publisher(
                name, schema=schema, title=f"{name}:{self.service}", description=description
            )

    async def forward(self, topic: Topic, payload: bytes, key: str) -> None:
        """Pass an inbound payload on unchanged, as an outside producer would write it."""
        headers = [("content-type", b"application/json")]
        await self._send([(self._declared(topic), payload, key.encode(), headers)])

    def _declared(self, topic: Topic) -> str:
        name = self.topic(topic)
        if name not in self._publishers:
            raise LookupError(f"kefu/{self.service} did not declare that it publishes to {name}")
        return name

    async def publish(self, *events: CloudEvent[Any]) -> None:
        """Send events, each keyed so a ticket's events stay in one partition, then wait for
        all their acks. They are handed to the producer in order and aiokafka sends one batch
        per partition at a time, so a ticket's events stay in order."""
        for event in events:
            if self.metrics is not None:
                self.metrics.published.labels(event.type).inc()
        await self._send(
            [
                (
                    self._declared(event.data.topic),
                    event.to_bytes(),
                    event.data.partition_key().encode(),
                    [
                        ("content-type", CLOUDEVENTS_CONTENT_TYPE),
                        # no `ce_` header: the CloudEvents SDKs read any as binary mode
                        ("kefu-type", event.type.encode()),
                        ("correlation_id", event.correlationid.encode()),
                        *trace_headers(event.correlationid),
                    ],
                )
                for event in events
            ]
        )

    async def _send(self, records: list[tuple[str, bytes, bytes, list[tuple[str, bytes]]]]) -> None:
        if self._producer is None:
            raise RuntimeError(f"kefu/{self.service}: the bus is not started")
        acks = [
            await self._producer.send(topic, value, key=key, headers=headers)
            for topic, value, key, headers in records
        ]
        await asyncio.gather(*acks)

    def consume(
        self,
        *topics: Topic,
        decode: Decode,
        handle: Handle,
        schema: Any,
        description: str,
        gather_s: float = 0.0,
        most: int = BATCH_MAX_RECORDS,
    ) -> None:
        """The service's one consumer: a group member reading all `topics` in micro-batches.
        `decode` turns one record into an input (raising to dead-letter or skip it); `handle`
        gets the batch's inputs (shared/consumer.py says what happens when it fails). The
        offsets are committed after `handle` and the dead letters are done; the NACK only
        fires if even the DLQ cannot be written, and then the batch is read again. One
        consumer per service keeps the group's members alike, so rebalances stay quick.
        `gather_s`: a batch that was not full is followed by a rest until that long after it
        began, so the next gathers what came meanwhile: a ticket's events of that time are
        one write of its document, not one each (for services off the path a customer waits
        on; a record after a quiet spell still goes at once). `most`: the records a batch
        may hold; more gather more of a ticket's events under load, when batches are full."""
        names = [self.topic(topic) for topic in topics]
        consumer = BatchConsumer(self, decode, handle, self.metrics)

        async def on_batch(records: Any) -> None:
            began = time.monotonic()
            await consumer(records)
            if self.metrics is not None and subscriber.consumer is not None:
                self.metrics.lagging(subscriber.consumer, records)
            if gather_s and len(records) < most:
                await asyncio.sleep(gather_s - (time.monotonic() - began))
                await refetch(subscriber.consumer)

        # what the AsyncAPI document shows: the payload of each record of the batch
        on_batch.__annotations__["records"] = schema
        subscriber = self.broker.subscriber(
            *names,
            batch=True,
            max_records=most,
            batch_timeout_ms=BATCH_TIMEOUT_MS,
            decoder=raw_records,
            group_id=self.group_id,
            group_instance_id=self.settings.instance_id or None,
            ack_policy=AckPolicy.NACK_ON_ERROR,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=self.settings.kafka_fetch_max_wait_ms,
            session_timeout_ms=self.settings.kafka_session_timeout_ms,
            heartbeat_interval_ms=self.settings.kafka_session_timeout_ms // 3,
            listener=HandOver(self.handing_over, lambda held: self._assigned(subscriber, held)),
            title=f"{'+'.join(names)}:{self.service}",
            description=description,
        )
        subscriber(on_batch)

    def _assigned(self, subscriber: Any, assigned: Any) -> None:
        held = sorted(f"{one.topic}:{one.partition}" for one in assigned)
        log.info("partitions assigned", partitions=held)  # each rebalance: whose work is whose
        consumer = subscriber.consumer
        self.holds_every_partition = consumer is not None and holds_every_partition(
            {topic: consumer.partitions_for_topic(topic) for topic in consumer.subscription()},
            {(held.topic, held.partition) for held in assigned},
        )


def holds_every_partition(
    partitions: dict[str, set[int] | None], assigned: set[tuple[str, int]]
) -> bool:
    """Whether `assigned` is every partition of the topics (a topic whose partitions are not
    known yet: no)."""
    if not partitions or any(known is None for known in partitions.values()):
        return False
    return all((topic, n) in assigned for topic, known in partitions.items() for n in known or ())


async def refetch(consumer: Any) -> None:
    """After a rest: drop what the fetcher took early in it (its fetch goes out the moment a
    batch is taken and comes back with the first record that arrives), so the next fetch
    brings everything that came meanwhile instead of that one record."""
    if consumer is None:
        return
    for partition in consumer.assignment():
        with contextlib.suppress(IllegalStateError):  # revoked during the rest
            consumer.seek(partition, await consumer.position(partition))


class HandOver(ConsumerRebalanceListener):  # type: ignore[misc]
    """Before partitions go to another member of the group, what this one keeps in memory
    for them (marks that events are published) is written, so their new owner does not
    publish those events again. aiokafka waits for it before rejoining the group. Each
    assignment (the whole of it) is told to `assigned`."""

    def __init__(
        self,
        hooks: list[Callable[[], Awaitable[None]]],
        assigned: Callable[[Any], None] = lambda held: None,
    ) -> None:
        self.hooks = hooks
        self.assigned = assigned

    async def on_partitions_revoked(self, revoked: Any) -> None:
        for hook in self.hooks if revoked else []:
            try:
                await hook()
            except Exception as error:  # the new owner publishes them again: ids drop repeats
                log.warning("writing what is kept for revoked partitions failed", error=repr(error))

    async def on_partitions_assigned(self, assigned: Any) -> None:
        self.assigned(assigned)

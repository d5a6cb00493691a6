"""Kafka through FastStream: the broker factory, CloudEvents publishing and guarded consumers."""

import asyncio
import json
import logging
import ssl
from collections.abc import Callable
from typing import Any

from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.publisher.usecase import LogicPublisher
from faststream.message import StreamMessage
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

from shared.events import CloudEvent
from shared.events.schema import envelope_schema
from shared.guard import Guard
from shared.inbound import inbound_schema
from shared.logs import get_logger
from shared.settings import Settings
from shared.store import AppliedIds
from shared.topics import Topic, topic_name

CLOUDEVENTS_CONTENT_TYPE = "application/cloudevents+json"
# Brokers that do not wake a waiting fetch when data arrives (Tansu) would otherwise add up
# to this much latency per hop; 50 ms costs an idle consumer twenty cheap polls a second.
FETCH_MAX_WAIT_MS = 50
_SASL = {"PLAIN": SASLPlaintext, "SCRAM-SHA-256": SASLScram256, "SCRAM-SHA-512": SASLScram512}


def kafka_security(settings: Settings) -> BaseSecurity | None:
    protocol = settings.kafka_security_protocol
    tls = ssl.create_default_context() if protocol.endswith("SSL") else None
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
    )


async def decode_json(message: StreamMessage[Any]) -> Any:
    """Every kefu topic carries JSON, whatever the content-type header says."""
    return json.loads(message.body)


class Bus:
    """One service's view of Kafka: its consumer group, its guarded subscribers, its publishers."""

    def __init__(
        self,
        broker: KafkaBroker,
        settings: Settings,
        service: str,
        applied: AppliedIds | None = None,
    ) -> None:
        self.broker = broker
        self.settings = settings
        self.service = service
        self.applied = applied
        self._publishers: dict[str, LogicPublisher] = {}
        self.declare_publishes(Topic.DLQ)
        broker.add_middleware(
            Guard.factory(bus=self, applied=applied, max_body_bytes=settings.max_body_bytes)
        )

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
        await self._publisher(self.topic(topic)).publish(
            payload, key=key.encode(), headers={"content-type": "application/json"}
        )

    def _publisher(self, name: str) -> LogicPublisher:
        if name not in self._publishers:
            raise LookupError(f"kefu/{self.service} did not declare that it publishes to {name}")
        return self._publishers[name]

    async def publish(self, *events: CloudEvent[Any]) -> None:
        """Send events, each keyed so a ticket's events stay in one partition, then wait for
        all their acks. They are handed to the producer in order and the producer keeps one
        request in flight per partition, so a ticket's events stay in order."""
        pending = [
            await self._publisher(self.topic(event.data.topic)).publish(
                event.to_bytes(),
                key=event.data.partition_key().encode(),
                headers={
                    "content-type": CLOUDEVENTS_CONTENT_TYPE,
                    "ce_type": event.type,
                    "ce_id": event.id,
                },
                correlation_id=event.correlationid,
                no_confirm=True,
            )
            for event in events
        ]
        await asyncio.gather(*pending)

    def subscriber(self, *topics: Topic, **options: Any) -> Callable[[Callable[..., Any]], Any]:
        """The service's consumer: one group member reading all `topics`, guarded
        (shared/guard.py) and committing after success. One consumer per service keeps the
        group's members alike, so rebalances stay quick. The guard turns every failure into
        a retry, a skip or a DLQ record; the NACK below only fires if even the DLQ cannot be
        written, and then the input is re-read instead of lost."""
        names = [self.topic(topic) for topic in topics]
        return self.broker.subscriber(
            *names,
            group_id=self.group_id,
            ack_policy=AckPolicy.NACK_ON_ERROR,
            auto_offset_reset="earliest",
            decoder=options.pop("decoder", decode_json),
            fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
            session_timeout_ms=self.settings.kafka_session_timeout_ms,
            heartbeat_interval_ms=self.settings.kafka_session_timeout_ms // 3,
            title=f"{'+'.join(names)}:{self.service}",
            **options,
        )

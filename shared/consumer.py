"""The batch consumer: every record of a micro-batch ends handled, skipped, or in the DLQ.

A batch from FastStream's batch subscriber is decoded record by record (oversized bodies,
bad JSON and invalid payloads become dead letters with their reason; events of unknown types
are skipped), then the service's handler gets every good input at once. What to do when the
handler fails is decided by shared/failures.py. The dead letters are published after the
handler's own events; FastStream commits the batch's offsets only when all of that returned.
"""

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import structlog
from aiokafka import ConsumerRecord

from kefu.shared.errors import PoisonMessage
from kefu.shared.events import decode_event, new_event
from kefu.shared.events.base import utc_now
from kefu.shared.events.ops import DeadLetter
from kefu.shared.failures import (
    Failure,
    Step,
    backoff_s,
    classify,
    describe,
    next_step,
    payload_text,
)
from kefu.shared.failures import peek_json as peek
from kefu.shared.logs import get_logger

if TYPE_CHECKING:
    from kefu.shared.bus import Bus
    from kefu.shared.metrics import Metrics

T = TypeVar("T")
Record = ConsumerRecord[bytes, bytes]
log = get_logger("kefu.consumer")


@dataclass(frozen=True)
class Input(Generic[T]):
    """One decoded record, with what logs about it should carry (worked out only for the
    inputs a log line or a span is about: most are never logged)."""

    record: Record
    value: T

    @cached_property
    def log_fields(self) -> dict[str, Any]:
        return log_fields(self.record, self.value)


@dataclass(frozen=True)
class Rejected:
    """An input that goes to the DLQ, and why."""

    input: Input[Any]
    reason: str


Decode = Callable[[Record], Any]


def canonical_event(record: Record) -> Any:
    """The decoder of services that read canonical events: the whole event, validated."""
    return decode_event(record.value)


Handle = Callable[[list[Input[Any]]], Awaitable[list[Rejected]]]


class BatchConsumer:
    def __init__(
        self, bus: "Bus", decode: Decode, handle: Handle, metrics: "Metrics | None" = None
    ) -> None:
        self.bus = bus
        self.decode = decode
        self.handle = handle
        self.metrics = metrics
        self.max_body_bytes = bus.settings.max_body_bytes

    async def __call__(self, records: Sequence[Record]) -> None:
        started = time.perf_counter()
        inputs, rejected, skipped = self._decode_all(records)
        with self.bus.tracing.handling(inputs):
            rejected += await self._handle(inputs)
        if rejected:
            await self._retrying(self._dead_letter, rejected)
        if self.metrics:
            self.metrics.consumed(records, rejected, skipped)
            self.metrics.batch_seconds.observe(time.perf_counter() - started)

    def _decode_all(
        self, records: Sequence[Record]
    ) -> tuple[list[Input[Any]], list[Rejected], list[Record]]:
        inputs, rejected, skipped = [], [], []
        for record in records:
            try:
                size = len(record.value or b"")
                if size > self.max_body_bytes:
                    raise PoisonMessage(f"body of {size} bytes exceeds KEFU_MAX_BODY_BYTES")
                value = self.decode(record)
                inputs.append(Input(record, value))
            except Exception as error:
                if classify(error) is Failure.UNKNOWN_TYPE:
                    fields = log_fields(record)
                    log.warning("event of unknown type skipped", error=str(error)[:300], **fields)
                    skipped.append(record)
                else:
                    rejected.append(Rejected(Input(record, None), describe(error, record.value)))
        return inputs, rejected, skipped

    async def _handle(self, inputs: list[Input[Any]]) -> list[Rejected]:
        """The handler on the inputs; on failure retried, split, skipped or dead-lettered."""
        attempts = 0
        while inputs:
            try:
                return await self.handle(inputs)
            except Exception as error:
                attempts += 1
                step = next_step(classify(error), attempts, len(inputs))
                where = inputs[0].log_fields if len(inputs) == 1 else {"inputs": len(inputs)}
                log.warning(
                    "handling failed", error=repr(error)[:500], step=step, attempt=attempts, **where
                )
                if step is Step.RETRY:
                    await asyncio.sleep(backoff_s(attempts))
                elif step is Step.SPLIT:
                    return [refused for one in inputs for refused in await self._handle([one])]
                elif step is Step.DEAD_LETTER:
                    return [Rejected(inputs[0], describe(error, inputs[0].record.value))]
                else:
                    return []
        return []

    async def _retrying(self, action: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        attempts = 0
        while True:
            try:
                return await action(*args)
            except Exception as error:
                attempts += 1
                if classify(error) is not Failure.TRANSIENT:
                    raise
                log.warning("transient fault, retrying", error=repr(error), attempt=attempts)
                await asyncio.sleep(backoff_s(attempts))

    async def _dead_letter(self, rejected: list[Rejected]) -> None:
        await self.bus.publish(*(dead_letter(self.bus.service, refusal) for refusal in rejected))
        for refusal in rejected:
            with structlog.contextvars.bound_contextvars(**refusal.input.log_fields):
                log.warning("message dead-lettered", error=refusal.reason)


def dead_letter(service: str, refusal: Rejected) -> Any:
    record = refusal.input.record
    payload, encoding = payload_text(record.value or b"")
    letter = DeadLetter(
        service=service,
        source_topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        key=record.key.decode(errors="replace") if record.key else None,
        error=refusal.reason,
        payload=payload,
        payload_encoding=encoding,
        at=utc_now(),
    )
    event_id = f"dlq:{service}:{record.topic}:{record.partition}:{record.offset}"
    correlation = refusal.input.log_fields.get("correlation_id") or event_id
    return new_event(letter, id=event_id, source=f"kefu/{service}", correlationid=str(correlation))


def log_fields(record: Record, value: Any = None) -> dict[str, Any]:
    """Where a record is, and the ids that tie it to its ticket and its chain: from its
    decoded value, or (when it could not be decoded) from whatever JSON it holds."""
    ids = _ids_of_value(value) if value is not None else _ids_of_json(peek(record.value))
    where = {"topic": record.topic, "partition": record.partition, "offset": record.offset}
    return where | {key: found for key, found in ids.items() if found is not None}


def _ids_of_value(value: Any) -> dict[str, Any]:
    if hasattr(value, "specversion"):  # an event (isinstance on a pydantic generic is slow)
        return {
            "event_id": value.id,
            "event_type": value.type,
            "correlation_id": value.correlationid,
            "ticket_id": getattr(value.data, "ticket_id", None),
        }
    correlation = getattr(value, "dedupe_key", None) or getattr(value, "command_id", None)
    return {"correlation_id": correlation, "ticket_id": getattr(value, "ticket_id", None)}


def _ids_of_json(head: dict[str, Any]) -> dict[str, Any]:
    if head.get("specversion"):
        data = head.get("data")
        return {
            "event_id": head.get("id"),
            "event_type": head.get("type"),
            "correlation_id": head.get("correlationid"),
            "ticket_id": data.get("ticket_id") if isinstance(data, dict) else None,
        }
    if "message_id" in head or "command_id" in head:
        return {"correlation_id": inbound_correlation(head), "ticket_id": head.get("ticket_id")}
    return {}


def inbound_correlation(head: dict[str, Any]) -> Any:
    """What intake uses as the correlation id: `<channel>:<message_id>` or the command id."""
    if "message_id" in head and isinstance(head.get("channel"), str):
        return f"{head['channel']}:{head['message_id']}"
    return head.get("message_id") or head.get("command_id")

"""The consumer guard: every message ends handled, skipped as a repeat, or in the DLQ.

- Poison input (bad JSON, invalid payload, a business rule the input breaks, an oversized
  body) goes to the DLQ with the reason, then the offset is committed.
- Transient faults (broker or store unreachable) are retried with capped backoff for as long
  as they last: the partition waits instead of losing or dead-lettering good input.
- Any other error is retried a few times and then dead-lettered, so that one message that
  trips a bug cannot stall its partition forever.
- A canonical event whose id this service already applied is skipped.
"""

import asyncio
import base64
import json
from functools import partial
from typing import TYPE_CHECKING, Any

import structlog
from aiokafka.errors import KafkaError
from faststream import BaseMiddleware
from pydantic import ValidationError
from pymongo.errors import ConnectionFailure

from shared.events import new_event
from shared.events.base import utc_now
from shared.events.ops import DeadLetter
from shared.logs import get_logger
from shared.store import AppliedIds

if TYPE_CHECKING:
    from aiokafka import ConsumerRecord

    from shared.bus import Bus

log = get_logger("kefu.guard")

TRANSIENT = (ConnectionFailure, KafkaError, OSError, asyncio.TimeoutError)
BUG_RETRIES = 3
BACKOFF_START_S = 0.1
BACKOFF_MAX_S = 5.0


class PoisonMessage(ValueError):
    """Input that can never be handled; raise it with a reason a human understands."""


class Guard(BaseMiddleware):
    def __init__(
        self,
        msg: "ConsumerRecord[bytes, bytes]",
        /,
        *,
        context: Any,
        bus: "Bus",
        applied: AppliedIds | None,
        max_body_bytes: int,
    ) -> None:
        super().__init__(msg, context=context)
        self.bus = bus
        self.applied = applied
        self.max_body_bytes = max_body_bytes
        self.event_id: str | None = None
        self.correlation_id: str | None = None
        self._log_context: Any = None

    @classmethod
    def factory(cls, **options: Any) -> Any:
        return partial(cls, **options)

    async def on_receive(self) -> None:
        if self.msg is not None:  # None when FastStream builds the middleware for a publish
            self._log_context = structlog.contextvars.bound_contextvars(**self._log_fields())
            self._log_context.__enter__()

    async def consume_scope(self, call_next: Any, msg: Any) -> Any:
        size = len(self.msg.value or b"")
        if size > self.max_body_bytes:
            raise PoisonMessage(f"body of {size} bytes exceeds KEFU_MAX_BODY_BYTES")
        if (
            self.event_id
            and self.applied
            and await self._retrying(self.applied.seen, self.event_id)
        ):
            log.info("duplicate event skipped")
            return None
        result = await self._retrying(call_next, msg)
        if self.event_id and self.applied:
            await self._retrying(self.applied.remember, self.event_id)
        return result

    async def after_processed(self, exc_type: Any = None, exc_val: Any = None, exc_tb: Any = None):
        try:
            if exc_val is None or isinstance(exc_val, asyncio.CancelledError):
                return False
            if _is_unknown_event_type(exc_val):
                log.warning("event of unknown type skipped", error=str(exc_val)[:300])
                return True
            await self._retrying(self._dead_letter, describe(exc_val, self.msg.value))
            return True
        finally:
            if self._log_context is not None:
                self._log_context.__exit__(None, None, None)

    async def _retrying(self, action: Any, *args: Any) -> Any:
        delay, bugs = BACKOFF_START_S, 0
        while True:
            try:
                return await action(*args)
            except (PoisonMessage, ValidationError, UnicodeDecodeError, json.JSONDecodeError):
                raise
            except TRANSIENT as error:
                log.warning("transient fault, retrying", error=repr(error), retry_in_s=delay)
            except Exception as error:
                bugs += 1
                if bugs > BUG_RETRIES:
                    raise
                log.error("handler failed, retrying", error=repr(error), attempt=bugs)
            await asyncio.sleep(delay)
            delay = min(delay * 2, BACKOFF_MAX_S)

    async def _dead_letter(self, reason: str) -> None:
        record = self.msg
        payload, encoding = _payload_text(record.value or b"")
        letter = DeadLetter(
            service=self.bus.service,
            source_topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key.decode(errors="replace") if record.key else None,
            error=reason,
            payload=payload,
            payload_encoding=encoding,
            at=utc_now(),
        )
        event_id = f"dlq:{self.bus.service}:{record.topic}:{record.partition}:{record.offset}"
        await self.bus.publish(
            new_event(
                letter,
                id=event_id,
                source=f"kefu/{self.bus.service}",
                correlationid=str(self.correlation_id or event_id),
            )
        )
        log.warning("message dead-lettered", error=reason, dlq_id=event_id)

    def _log_fields(self) -> dict[str, Any]:
        record = self.msg
        fields: dict[str, Any] = {
            "topic": record.topic,
            "partition": record.partition,
            "offset": record.offset,
        }
        head = _peek_json(record.value)
        if head.get("specversion"):
            self.event_id = str(head.get("id") or "") or None
            fields.update(
                event_id=self.event_id,
                event_type=head.get("type"),
                correlation_id=head.get("correlationid"),
                ticket_id=(head.get("data") or {}).get("ticket_id")
                if isinstance(head.get("data"), dict)
                else None,
            )
        elif "message_id" in head or "command_id" in head:
            fields["correlation_id"] = inbound_correlation(head)
            fields["ticket_id"] = head.get("ticket_id")
        self.correlation_id = fields.get("correlation_id")
        return {key: value for key, value in fields.items() if value is not None}


def inbound_correlation(head: dict[str, Any]) -> Any:
    """What intake uses as the correlation id: `<channel>:<message_id>` or the command id."""
    if "message_id" in head and isinstance(head.get("channel"), str):
        return f"{head['channel']}:{head['message_id']}"
    return head.get("message_id") or head.get("command_id")


def describe(error: BaseException, raw: bytes | None = None) -> str:
    """A reason for the DLQ that a human can act on."""
    if isinstance(error, UnicodeDecodeError | json.JSONDecodeError):
        return f"not UTF-8 JSON: {error}"
    if isinstance(error, ValidationError) and raw is not None and not _peek_json(raw):
        return "invalid payload: expected a JSON object with fields"
    if isinstance(error, ValidationError):
        parts = [f"{problem['loc']}: {problem['msg']}" for problem in problems(error)[:10]]
        return "invalid payload: " + "; ".join(parts)
    if isinstance(error, PoisonMessage):
        return str(error)
    return f"unhandled error: {type(error).__name__}: {error}"[:2000]


def problems(error: ValidationError) -> list[dict[str, str]]:
    """Each validation problem as where (`from.address`) and what."""
    return [
        {"loc": ".".join(map(str, e["loc"])) or "body", "msg": e["msg"]} for e in error.errors()
    ]


def _is_unknown_event_type(error: BaseException) -> bool:
    return isinstance(error, ValidationError) and any(
        e["type"] == "union_tag_invalid" and len(e["loc"]) <= 1 for e in error.errors()
    )


def _payload_text(raw: bytes) -> tuple[str, str]:
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return base64.b64encode(raw).decode("ascii"), "base64"


def _peek_json(raw: bytes | None) -> dict[str, Any]:
    try:
        value = json.loads(raw or b"")
    except (ValueError, UnicodeDecodeError):
        return {}
    return value if isinstance(value, dict) else {}

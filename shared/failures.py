"""What a consumer does when handling fails, as pure functions (no framework, no I/O).

- Poison (bad JSON, an invalid payload, a rule the input breaks, an oversized body) is
  dead-lettered with its reason at once: retrying cannot help.
- An event of a type this version does not know is skipped, on every topic, so consumers
  survive rolling upgrades in which producers learn a type first.
- Transient faults (broker or store unreachable, timeouts) retry the whole batch with capped
  exponential backoff for as long as they last: good input waits instead of being lost.
- Anything else is a bug: the batch is retried a few times; then it is split and each input
  is tried alone, so the one that keeps failing is isolated and dead-lettered and the others
  go through.
"""

import asyncio
import base64
import json
from enum import StrEnum

from aiokafka.errors import KafkaError
from pydantic import ValidationError
from pymongo.errors import AutoReconnect, ConnectionFailure, ExecutionTimeout, NetworkTimeout

from kefu.shared.errors import PoisonMessage, UnknownEventType

TRANSIENT = (
    ConnectionFailure,
    AutoReconnect,
    NetworkTimeout,
    ExecutionTimeout,
    KafkaError,
    OSError,
    asyncio.TimeoutError,
)
BUG_RETRIES = 3
BACKOFF_START_S = 0.1
BACKOFF_MAX_S = 5.0


class Failure(StrEnum):
    TRANSIENT = "transient"
    POISON = "poison"
    UNKNOWN_TYPE = "unknown_type"
    BUG = "bug"


class Step(StrEnum):
    RETRY = "retry"  # the same inputs again, after a backoff
    SPLIT = "split"  # each input alone
    DEAD_LETTER = "dead_letter"
    SKIP = "skip"


def classify(error: BaseException) -> Failure:
    if isinstance(error, UnknownEventType):
        return Failure.UNKNOWN_TYPE
    if isinstance(
        error, PoisonMessage | ValidationError | UnicodeDecodeError | json.JSONDecodeError
    ):
        return Failure.POISON
    if isinstance(error, TRANSIENT):
        return Failure.TRANSIENT
    return Failure.BUG


def next_step(failure: Failure, attempts: int, inputs: int) -> Step:
    """What to do after `attempts` failed tries of a batch of `inputs` inputs."""
    if failure is Failure.TRANSIENT:
        return Step.RETRY
    if failure is Failure.UNKNOWN_TYPE:
        return Step.SKIP if inputs == 1 else Step.SPLIT
    if failure is Failure.POISON:
        return Step.DEAD_LETTER if inputs == 1 else Step.SPLIT
    if attempts < BUG_RETRIES:
        return Step.RETRY
    return Step.DEAD_LETTER if inputs == 1 else Step.SPLIT


def backoff_s(attempts: int) -> float:
    """0.1 s after the first failure, doubling, at most 5 s."""
    return min(BACKOFF_START_S * 2 ** max(attempts - 1, 0), BACKOFF_MAX_S)


def describe(error: BaseException, raw: bytes | None = None) -> str:
    """A reason for the DLQ that a human can act on."""
    if isinstance(error, UnicodeDecodeError | json.JSONDecodeError):
        return f"not UTF-8 JSON: {error}"
    if isinstance(error, ValidationError) and error.errors()[0]["type"] == "json_invalid":
        return f"not UTF-8 JSON: {error.errors()[0]['msg']}"
    if isinstance(error, ValidationError) and raw is not None and not peek_json(raw):
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


def payload_text(raw: bytes) -> tuple[str, str]:
    """The DLQ's copy of a payload: text when it is UTF-8, else base64."""
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return base64.b64encode(raw).decode("ascii"), "base64"


def peek_json(raw: bytes | None) -> dict[str, object]:
    """The top-level JSON object of a value, or {} when it is not one."""
    try:
        value = json.loads(raw or b"")
    except (ValueError, UnicodeDecodeError):
        return {}
    return value if isinstance(value, dict) else {}

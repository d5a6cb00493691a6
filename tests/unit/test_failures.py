"""What the consumer does on each kind of failure, and the reasons the DLQ carries."""

import json

import pytest
from aiokafka.errors import KafkaConnectionError
from pydantic import ValidationError
from pymongo.errors import AutoReconnect, ServerSelectionTimeoutError

from kefu.shared.errors import PoisonMessage, UnknownEventType
from kefu.shared.failures import (
    BUG_RETRIES,
    Failure,
    Step,
    backoff_s,
    classify,
    describe,
    next_step,
    payload_text,
)
from kefu.shared.inbound import ChannelMessage


@pytest.mark.parametrize(
    ("error", "failure"),
    [
        (ServerSelectionTimeoutError("no primary"), Failure.TRANSIENT),
        (AutoReconnect("connection reset"), Failure.TRANSIENT),
        (KafkaConnectionError(), Failure.TRANSIENT),
        (ConnectionRefusedError(), Failure.TRANSIENT),
        (TimeoutError(), Failure.TRANSIENT),
        (PoisonMessage("closed ticket"), Failure.POISON),
        (json.JSONDecodeError("Expecting value", "x", 0), Failure.POISON),
        (UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid"), Failure.POISON),
        (UnknownEventType("kefu.ticket.teleported"), Failure.UNKNOWN_TYPE),
        (KeyError("status"), Failure.BUG),
        (ZeroDivisionError(), Failure.BUG),
    ],
)
def test_failures_are_classified(error: BaseException, failure: Failure) -> None:
    assert classify(error) is failure


def test_a_validation_error_is_poison() -> None:
    with pytest.raises(ValidationError) as caught:
        ChannelMessage.model_validate({})
    assert classify(caught.value) is Failure.POISON


@pytest.mark.parametrize(
    ("failure", "attempts", "inputs", "step"),
    [
        (Failure.TRANSIENT, 1, 50, Step.RETRY),
        (Failure.TRANSIENT, 1000, 1, Step.RETRY),  # as long as the outage lasts
        (Failure.POISON, 1, 50, Step.SPLIT),  # find the one poison input
        (Failure.POISON, 1, 1, Step.DEAD_LETTER),
        (Failure.UNKNOWN_TYPE, 1, 50, Step.SPLIT),
        (Failure.UNKNOWN_TYPE, 1, 1, Step.SKIP),
        (Failure.BUG, 1, 50, Step.RETRY),
        (Failure.BUG, BUG_RETRIES - 1, 50, Step.RETRY),
        (Failure.BUG, BUG_RETRIES, 50, Step.SPLIT),  # isolate the input that trips the bug
        (Failure.BUG, BUG_RETRIES - 1, 1, Step.RETRY),
        (Failure.BUG, BUG_RETRIES, 1, Step.DEAD_LETTER),
    ],
)
def test_next_step(failure: Failure, attempts: int, inputs: int, step: Step) -> None:
    assert next_step(failure, attempts, inputs) is step


def test_backoff_doubles_from_a_tenth_of_a_second_up_to_five() -> None:
    assert [backoff_s(n) for n in (1, 2, 3, 4)] == [0.1, 0.2, 0.4, 0.8]
    assert backoff_s(50) == 5.0


def test_reasons_name_the_fields_that_are_wrong() -> None:
    with pytest.raises(ValidationError) as caught:
        ChannelMessage.model_validate({"channel": "fax", "message_id": "", "text": "x"})
    reason = describe(caught.value, b'{"channel": "fax"}')
    assert reason.startswith("invalid payload: ")
    assert "channel: Input should be" in reason and "from: Field required" in reason


def test_reasons_for_bytes_that_are_not_json_poison_and_bugs() -> None:
    assert describe(json.JSONDecodeError("Expecting value", "x", 0)).startswith("not UTF-8 JSON")
    assert describe(PoisonMessage("closed ticket")) == "closed ticket"
    assert describe(KeyError("status")) == "unhandled error: KeyError: 'status'"


def test_payloads_are_text_when_utf8_else_base64() -> None:
    assert payload_text("你好".encode()) == ("你好", "utf-8")
    assert payload_text(b"\xff\xfe") == ("//4=", "base64")

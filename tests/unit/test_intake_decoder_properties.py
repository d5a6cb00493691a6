"""Property tests: whatever bytes arrive on an inbound topic, intake either decides valid
canonical events or writes a DLQ record with a reason; it never fails in another way."""

import json
from typing import Any

from hypothesis import HealthCheck, example, given, settings

from kefu.services.intake.actions import (
    CommandRejected,
    InvalidCommand,
    decide_command,
    decode_command,
    presence_event,
    refusal_event,
)
from kefu.shared.events import decode_event
from kefu.shared.events.base import utc_now
from kefu.shared.events.ops import DeadLetter
from kefu.shared.failures import describe
from kefu.shared.inbound import PresenceCommand, decode_channel_message
from tests.factories import BOUNDS, conversation, message_body, opening
from tests.strategies import REFUSED, mutated_commands, mutated_messages, raw_inputs


def dead_letter(error: Exception, raw: bytes) -> DeadLetter:
    reason = describe(error, raw)
    assert reason and not reason.startswith("unhandled error")
    return DeadLetter(
        service="intake",
        source_topic="kefu.channel.inbound",
        partition=0,
        offset=0,
        key=None,
        error=reason,
        payload="",
        at=utc_now(),
    )


def assert_round_trips(events: list[Any]) -> None:
    for event in events:
        assert decode_event(event.to_bytes()).to_bytes() == event.to_bytes()


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(raw_inputs | mutated_messages())
@example(b"[" * 100_000)
@example(b'{"channel": "email", "from": {"address": ["x"]}}')
@example(json.dumps(message_body("sms")).encode("utf-16"))
def test_channel_input_becomes_events_or_a_dead_letter(raw: bytes) -> None:
    try:
        message = decode_channel_message(raw, BOUNDS)
    except REFUSED as error:
        dead_letter(error, raw)
        return
    events = opening(message)
    assert [event.type for event in events] == [
        "kefu.ticket.opened",
        "kefu.ticket.message_received",
    ]
    assert_round_trips(events)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(raw_inputs | mutated_commands())
def test_agent_input_becomes_a_command_or_a_dead_letter(raw: bytes) -> None:
    """An invalid command that says whose it is is also told to its agent."""
    try:
        command = decode_command(raw)
    except REFUSED as error:
        dead_letter(error, raw)
        return
    if isinstance(command, InvalidCommand):
        assert command.reason.startswith("invalid payload: ")
        assert_round_trips([refusal_event(command, command.reason, utc_now())])
        return
    if isinstance(command, PresenceCommand):
        assert_round_trips([presence_event(command, "intake:presence:t:0:0", utc_now())])
        return
    for status in ("new", "open", "pending", "on_hold", "solved", "closed"):
        try:
            events, _ = decide_command(command, conversation(status=status), utc_now())
        except CommandRejected as error:
            dead_letter(error, raw)
            assert_round_trips([refusal_event(command, str(error), utc_now())])
            continue
        assert_round_trips(events)

"""Property tests: whatever bytes arrive on an inbound topic, intake either decides valid
canonical events or writes a DLQ record with a reason; it never fails in another way."""

import json
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from services.intake.actions import CommandRejected, decide_command, presence_event
from shared.events import decode_event
from shared.events.base import utc_now
from shared.events.ops import DeadLetter
from shared.guard import describe
from shared.inbound import (
    PresenceCommand,
    decode_agent_command,
    decode_channel_message,
)
from tests.factories import ADDRESSES, conversation, message_body, opening

REFUSED = (ValidationError, UnicodeDecodeError, json.JSONDecodeError)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
FIELDS = [
    "channel",
    "message_id",
    "from",
    "text",
    "received_at",
    "customer_id",
    "customer_tier",
    "subject",
    "thread",
    "locale",
    "attachments",
    "meta",
]
AGENT_FIELDS = [
    "action",
    "agent_id",
    "command_id",
    "ticket_id",
    "status",
    "skills",
    "capacity",
    "tier",
    "text",
    "public",
    "priority",
    "to_agent_id",
    "to_skill",
    "reason",
]


@st.composite
def mutated_messages(draw: Any) -> bytes:
    body = message_body(draw(st.sampled_from(sorted(ADDRESSES))))
    for field in draw(st.lists(st.sampled_from(FIELDS), max_size=3)):
        if draw(st.booleans()):
            body.pop(field, None)
        else:
            body[field] = draw(json_values | st.fixed_dictionaries({"address": json_values}))
    return json.dumps(body).encode()


@st.composite
def mutated_commands(draw: Any) -> bytes:
    body: dict[str, Any] = {
        "action": draw(
            st.sampled_from(
                [
                    "presence",
                    "reply",
                    "note",
                    "set_status",
                    "set_priority",
                    "transfer",
                    "escalate",
                    "x",
                ]
            )
        ),
        "agent_id": "a-1",
        "command_id": "c-1",
        "ticket_id": "1001",
        "status": "online",
        "capacity": 2,
        "text": "hi",
        "priority": "P2",
        "to_skill": "billing",
    }
    for field in draw(st.lists(st.sampled_from(AGENT_FIELDS), max_size=3)):
        body[field] = draw(json_values)
    return json.dumps(body).encode()


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
        assert decode_event(event.to_bytes()) == event


raw_inputs = st.binary(max_size=300) | json_values.map(lambda value: json.dumps(value).encode())


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(raw_inputs | mutated_messages())
@example(b"[" * 100_000)
@example(b'{"channel": "email", "from": {"address": ["x"]}}')
@example(json.dumps(message_body("sms")).encode("utf-16"))
def test_channel_input_becomes_events_or_a_dead_letter(raw: bytes) -> None:
    try:
        message = decode_channel_message(raw)
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
    try:
        command = decode_agent_command(raw)
    except REFUSED as error:
        dead_letter(error, raw)
        return
    if isinstance(command, PresenceCommand):
        assert_round_trips([presence_event(command, "intake:presence:t:0:0", utc_now())])
        return
    for status in ("new", "open", "pending", "on_hold", "solved", "closed"):
        try:
            events, _ = decide_command(command, conversation(status=status), utc_now())
        except CommandRejected as error:
            dead_letter(error, raw)
            continue
        assert_round_trips(events)

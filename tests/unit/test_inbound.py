"""Per-channel validation of inbound payloads, with the reasons the DLQ and HTTP 422 carry."""

import json
from datetime import timedelta

import pytest
from pydantic import ValidationError

from kefu.shared.failures import describe
from kefu.shared.inbound import TimeBounds, decode_agent_command, decode_channel_message
from tests.factories import NOW, message_body

AT_NOW = TimeBounds(timedelta(minutes=5), timedelta(days=7), now=lambda: NOW)


def decode(body) -> object:
    return decode_channel_message(json.dumps(body).encode(), AT_NOW)


def reason(body) -> str:
    raw = json.dumps(body).encode()
    with pytest.raises(ValidationError) as caught:
        decode_channel_message(raw, AT_NOW)
    return describe(caught.value, raw)


@pytest.mark.parametrize("channel", ["email", "chat", "sms", "voice", "webform", "social"])
def test_every_channel_accepts_its_own_kind_of_sender(channel) -> None:
    assert decode(message_body(channel)).channel == channel


@pytest.mark.parametrize(
    ("channel", "given", "normalised"),
    [
        ("email", "Jane@Example.COM", "Jane@example.com"),
        ("sms", "+86 138-0013-8000", "+8613800138000"),
        ("voice", "+1 (202) 555-0143", "+12025550143"),
        ("chat", "  visitor-42 ", "visitor-42"),
    ],
)
def test_senders_are_normalised(channel, given, normalised) -> None:
    assert decode(message_body(channel, address=given)).sender.address == normalised


@pytest.mark.parametrize(
    ("channel", "address", "expected"),
    [
        ("email", "jane", "not a valid email address"),
        ("webform", "jane@", "not a valid email address"),
        ("email", "+8613800138000", "not a valid email address"),
        ("sms", "13800138000", "E.164 phone number"),
        ("sms", "jane@example.com", "E.164 phone number"),
        ("voice", "+1 555 0100", "E.164 phone number"),
        ("social", "   ", "must not be blank"),
    ],
)
def test_senders_that_do_not_fit_the_channel_are_refused(channel, address, expected) -> None:
    assert expected in reason(message_body(channel, address=address))


def test_chat_needs_a_conversation() -> None:
    assert "thread.conversation_id is required" in reason(message_body("chat", thread={}))


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"text": "x" * 100_001}, "text: String should have at most 100000 characters"),
        ({"message_id": ""}, "message_id: String should have at least 1 character"),
        ({"message_id": "m" * 257}, "message_id: String should have at most 256 characters"),
        ({"channel": "fax"}, "channel: Input should be"),
        ({"customer_tier": "gold"}, "customer_tier: Input should be"),
        ({"received_at": "yesterday"}, "received_at: Input should be a valid datetime"),
        ({"received_at": "2026-11-23T10:00:00"}, "received_at: Input should have timezone info"),
        (
            {
                "attachments": [
                    {
                        "filename": "a.png",
                        "content_type": "image/png",
                        "size": 3,
                        "url": "u",
                        "data": "AAA",
                    }
                ]
            },
            "attachments.0.data: Extra inputs are not permitted",
        ),
        ({"attachments": [{"filename": "a.png"}]}, "attachments.0.content_type: Field required"),
        ({"colour": "red"}, "colour: Extra inputs are not permitted"),
    ],
)
def test_fields_are_checked(change, expected) -> None:
    assert expected in reason({**message_body("email"), **change})


def test_a_full_message_keeps_everything() -> None:
    body = message_body(
        "voice",
        text="",
        customer_id="c-7",
        customer_tier="svip",
        locale="zh-CN",
        received_at="2026-11-23T10:00:00+08:00",
        attachments=[
            {
                "filename": "call.mp3",
                "content_type": "audio/mpeg",
                "size": 1024,
                "url": "https://files/1",
            }
        ],
        meta={"call_id": "c-1", "ivr_choice": "2"},
    )
    decoded = decode(body)
    assert decoded.text == "" and decoded.attachments[0].size == 1024
    assert decoded.meta == {"call_id": "c-1", "ivr_choice": "2"}
    assert decoded.partition_key() == "voice:+12025550143"


def test_partition_keys_are_channel_and_thread_or_sender() -> None:
    assert decode(message_body("chat")).partition_key() == "chat:conv-1"
    assert decode(message_body("email")).partition_key() == "email:jane@example.com"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"action": "presence", "agent_id": "a", "status": "online", "capacity": 3}, None),
        (
            {"action": "presence", "agent_id": "a", "status": "busy", "capacity": 3},
            "presence.status",
        ),
        (
            {"action": "presence", "agent_id": "a", "status": "online", "capacity": -1},
            "presence.capacity",
        ),
        (
            {"action": "presence", "agent_id": "a", "status": "online", "capacity": 1, "tier": 4},
            "presence.tier",
        ),
        (
            {"action": "reply", "agent_id": "a", "command_id": "c", "ticket_id": "1", "text": "hi"},
            None,
        ),
        (
            {"action": "reply", "agent_id": "a", "ticket_id": "1", "text": "hi"},
            "reply.command_id: Field required",
        ),
        (
            {
                "action": "set_status",
                "agent_id": "a",
                "command_id": "c",
                "ticket_id": "1",
                "status": "new",
            },
            "set_status.status",
        ),
        (
            {
                "action": "set_priority",
                "agent_id": "a",
                "command_id": "c",
                "ticket_id": "1",
                "priority": "P5",
            },
            "set_priority.priority",
        ),
        (
            {"action": "transfer", "agent_id": "a", "command_id": "c", "ticket_id": "1"},
            "needs to_agent_id or to_skill",
        ),
        ({"action": "dance", "agent_id": "a"}, "does not match any of the expected tags"),
    ],
)
def test_agent_commands(body, expected) -> None:
    raw = json.dumps(body).encode()
    if expected is None:
        assert decode_agent_command(raw).agent_id == "a"
        return
    with pytest.raises(ValidationError) as caught:
        decode_agent_command(raw)
    assert expected in describe(caught.value, raw)


@pytest.mark.parametrize(
    ("received_at", "expected"),
    [
        ("1970-01-01T00:00:00Z", "received_at: more than 7d in the past (KEFU_MAX_BACKDATE)"),
        ("0001-01-01T00:00:00+14:00", "received_at: more than 7d in the past"),
        ("9999-12-31T23:59:59-12:00", "received_at: more than 5m ahead of kefu's clock"),
        ("2026-11-23T10:05:01Z", "received_at: more than 5m ahead of kefu's clock"),
        ("2026-11-16T09:59:59Z", "received_at: more than 7d in the past"),
    ],
)
def test_a_time_far_from_kefus_clock_is_refused_naming_the_field(received_at, expected) -> None:
    assert expected in reason({**message_body("email"), "received_at": received_at})


@pytest.mark.parametrize(
    "received_at", ["2026-11-23T10:05:00Z", "2026-11-16T10:00:00Z", "2026-11-23T18:04:00+08:00"]
)
def test_a_time_within_the_bounds_is_taken(received_at) -> None:
    assert decode({**message_body("email"), "received_at": received_at}).received_at


def test_the_bounds_are_settable() -> None:
    raw = json.dumps({**message_body("sms"), "received_at": "2026-11-01T10:00:00Z"}).encode()
    wide = TimeBounds(timedelta(0), timedelta(days=30), now=lambda: NOW)
    assert decode_channel_message(raw, wide).received_at

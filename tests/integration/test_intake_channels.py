"""Every channel through the real broker and store: valid messages become tickets,
classified by the policy; invalid ones go to the DLQ with the reason, and intake keeps going."""

import pytest
from hypothesis import HealthCheck, given, settings

from kefu.shared.inbound import decode_channel_message
from kefu.shared.topics import Topic
from tests.factories import BOUNDS, message_body
from tests.integration.conftest import RunningIntake, unique
from tests.kafka import produce
from tests.strategies import REFUSED, mutated_messages, raw_inputs


def new_address(channel: str) -> str:
    if channel in ("email", "webform"):
        return unique("c") + "@example.com"
    if channel in ("sms", "voice"):
        return "+86139" + str(uuid_digits())
    return unique("@h")


def uuid_digits() -> str:
    return str(int(unique(), 16))[-8:].zfill(8)


@pytest.mark.parametrize("channel", ["email", "chat", "sms", "voice", "webform", "social"])
async def test_each_channel_opens_a_ticket(intake: RunningIntake, channel: str) -> None:
    message_id = unique("m-")
    extra = {"thread": {"conversation_id": unique("conv-")}} if channel == "chat" else {}
    body = message_body(channel, message_id, new_address(channel), subject="Hello", **extra)
    body["meta"] = {"page_url": "https://shop/help"} if channel == "webform" else {}
    await intake.send(body)
    opened, received = await intake.take(2, correlationid=f"{channel}:{message_id}")

    assert opened["type"] == "kefu.ticket.opened"
    assert opened["id"] == f"intake:{channel}:{message_id}:opened"
    assert opened["data"]["channel"] == channel
    assert opened["data"]["customer"]["address"] == body["from"]["address"]
    assert opened["data"]["priority"] == "P3" and opened["data"]["locale"] == "en"
    assert received["type"] == "kefu.ticket.message_received"
    assert received["data"]["ticket_id"] == opened["data"]["ticket_id"] == opened["subject"]
    assert received["data"]["text"] == body["text"]


@pytest.mark.parametrize(
    ("text", "tier", "priority", "skills"),
    [
        ("我们的系统瘫痪了", "standard", "P1", ["tech"]),
        ("The site is DOWN", "standard", "P1", ["tech"]),
        ("I cannot download my invoice", "standard", "P3", ["billing"]),
        ("申请退款", "vip", "P2", ["billing"]),
        ("where is my parcel", "svip", "P1", ["general"]),
    ],
)
async def test_the_policy_classifies_new_tickets(
    intake: RunningIntake, text, tier, priority, skills
) -> None:
    message_id = unique("m-")
    await intake.send(
        message_body("sms", message_id, new_address("sms"), text=text, customer_tier=tier)
    )
    [opened] = await intake.take(1, id=f"intake:sms:{message_id}:opened")
    assert (opened["data"]["priority"], opened["data"]["skills"]) == (priority, skills)


async def test_poison_goes_to_the_dlq_and_the_next_message_still_works(
    intake: RunningIntake,
) -> None:
    key = unique("poison-")
    poison = [
        (b"\xff\xfe\x00not json", "not UTF-8 JSON"),
        ({"channel": "email", "message_id": "p-2", "text": "no sender"}, "from: Field required"),
        (message_body("fax", "p-3", "jane@example.com"), "channel: Input should be"),
        (message_body("sms", "p-4", "12345"), "E.164 phone number"),
        (message_body("email", "p-5", "jane"), "not a valid email address"),
        (message_body("chat", "p-6", thread={}), "thread.conversation_id is required"),
        (message_body("email", "p-7", text="x" * 100_001), "at most 100000 characters"),
        (message_body(received_at="1970-01-01T00:00:00Z"), "received_at: more than 7d in the"),
        (message_body(received_at="9999-12-31T23:59:59-12:00"), "received_at: more than 5m"),
        (message_body("sms", "p-10", customer_id="=HYPERLINK(1)"), "customer_id: must be 1-64"),
    ]
    await produce(intake.settings, Topic.CHANNEL_INBOUND, *(value for value, _ in poison), key=key)
    ok_id = unique("ok-")
    await intake.send(message_body("email", ok_id))
    letters = await intake.reader.take(
        len(poison),
        lambda event: event["type"] == "kefu.dlq.message" and event["data"]["key"] == key,
    )
    await intake.take(1, id=f"intake:email:{ok_id}:opened")

    assert len(letters) == len(poison)
    by_offset = sorted(letters, key=lambda letter: letter["data"]["offset"])
    for (_, expected), letter in zip(poison, by_offset, strict=True):
        assert expected in letter["data"]["error"]
    binary = next(letter["data"] for letter in letters if "UTF-8" in letter["data"]["error"])
    assert binary["payload_encoding"] == "base64"
    assert binary["source_topic"] == f"{intake.settings.topic_prefix}channel.inbound"
    assert binary["service"] == "intake"


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(raw=raw_inputs | mutated_messages())
async def test_whatever_arrives_becomes_events_or_a_dead_letter(
    intake: RunningIntake, raw: bytes
) -> None:
    """Through the real consumer: each value ends as the message's events or a DLQ record
    with a reason (never an `unhandled error`), and intake keeps consuming."""
    key = unique("fuzz-")
    await produce(intake.settings, Topic.CHANNEL_INBOUND, raw, key=key)
    try:
        message = decode_channel_message(raw, BOUNDS)
    except REFUSED:
        [letter] = await intake.reader.take(
            1, lambda e: e["type"] == "kefu.dlq.message" and e["data"]["key"] == key
        )
        assert not letter["data"]["error"].startswith("unhandled error"), letter
        return
    await intake.take(1, correlationid=message.dedupe_key, type="kefu.ticket.message_received")

"""Intake against the real broker and store: messages become tickets, exactly once."""

from typing import Any

import pytest

from services.intake.app import build
from shared.settings import Settings
from shared.topics import Topic
from tests.kafka import TopicReader, produce


def channel_message(channel: str, message_id: str, address: str, **extra: Any) -> dict[str, Any]:
    return {
        "channel": channel,
        "message_id": message_id,
        "from": {"address": address},
        "text": "my order has not arrived",
        **extra,
    }


def of_correlation(correlation: str):
    return lambda event: event.get("correlationid") == correlation


@pytest.mark.parametrize(
    ("channel", "address", "extra"),
    [
        ("email", "jane@example.com", {"subject": "Where is my order?"}),
        ("sms", "+8613800138000", {}),
        ("chat", "visitor-42", {"thread": {"conversation_id": "conv-1"}}),
    ],
)
async def test_a_message_opens_a_ticket(settings: Settings, channel, address, extra) -> None:
    async with build(settings), TopicReader(settings, Topic.TICKET_EVENTS) as reader:
        await produce(
            settings, Topic.CHANNEL_INBOUND, channel_message(channel, "m-1", address, **extra)
        )
        opened, received = await reader.take(2, of_correlation(f"{channel}:m-1"))

    assert opened["type"] == "kefu.ticket.opened"
    assert opened["id"] == f"intake:{channel}:m-1:opened"
    assert opened["data"]["customer"]["address"] == address
    assert opened["data"]["priority"] == "P3"
    assert received["type"] == "kefu.ticket.message_received"
    assert received["data"]["ticket_id"] == opened["data"]["ticket_id"] == opened["subject"]
    assert received["data"]["from"]["address"] == address


async def test_a_message_sent_three_times_opens_one_ticket(settings: Settings) -> None:
    message = channel_message("email", "dup-1", "jane@example.com")
    async with build(settings), TopicReader(settings, Topic.TICKET_EVENTS) as reader:
        await produce(settings, Topic.CHANNEL_INBOUND, message, message, message)
        await reader.take(2, of_correlation("email:dup-1"))
        events = await reader.settle(2.0)

    assert [event["type"] for event in events] == [
        "kefu.ticket.opened",
        "kefu.ticket.message_received",
    ]


async def test_poison_goes_to_the_dlq_and_the_next_message_still_works(settings: Settings) -> None:
    poison = [
        (b"\xff\xfe\x00not json", "not UTF-8 JSON"),
        ({"channel": "email", "message_id": "p-2", "text": "no sender"}, "from: Field required"),
        (channel_message("fax", "p-3", "jane@example.com"), "channel: Input should be"),
    ]
    async with build(settings), TopicReader(settings, Topic.DLQ, Topic.TICKET_EVENTS) as reader:
        await produce(settings, Topic.CHANNEL_INBOUND, *(value for value, _ in poison))
        await produce(settings, Topic.CHANNEL_INBOUND, channel_message("email", "ok-1", "a@b.co"))
        letters = await reader.take(3, lambda event: event["type"] == "kefu.dlq.message")
        opened = await reader.take(1, of_correlation("email:ok-1"))

    assert len(letters) == 3 and len(opened) == 1
    reasons = sorted(letter["data"]["error"] for letter in letters)
    for (_, expected), reason in zip(sorted(poison, key=lambda p: p[1]), reasons, strict=True):
        assert expected in reason
    binary = next(letter["data"] for letter in letters if "UTF-8" in letter["data"]["error"])
    assert binary["payload_encoding"] == "base64"
    assert binary["source_topic"] == f"{settings.topic_prefix}channel.inbound"
    assert binary["key"] == "k" and binary["service"] == "intake"

"""Valid inbound payloads and the events they open, for tests of every layer."""

from datetime import UTC, datetime, timedelta
from typing import Any

from kefu.services.intake.classify import classify
from kefu.services.intake.conversation import Conversation
from kefu.services.intake.tickets import opening_events
from kefu.shared.events import CloudEvent
from kefu.shared.events.survey import SurveyResponded
from kefu.shared.inbound import ChannelMessage, TimeBounds
from kefu.shared.policy import Classification

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
DEFAULT_POLICY = Classification()
# the default bounds (KEFU_MAX_CLOCK_SKEW, KEFU_MAX_BACKDATE) against the real clock
BOUNDS = TimeBounds(timedelta(minutes=5), timedelta(days=7))
ADDRESSES = {
    "email": "jane@example.com",
    "webform": "jane@example.com",
    "sms": "+8613800138000",
    "voice": "+12025550143",
    "chat": "visitor-42",
    "social": "@jane",
}


def message_body(
    channel: str = "email", message_id: str = "m-1", address: str | None = None, **extra: Any
) -> dict[str, Any]:
    """A channel.inbound payload; chat gets a conversation id unless `thread` is given."""
    body: dict[str, Any] = {
        "channel": channel,
        "message_id": message_id,
        "from": {"address": address or ADDRESSES[channel]},
        "text": "my order has not arrived",
    }
    if channel == "chat":
        body["thread"] = {"conversation_id": "conv-1"}
    return {**body, **extra}


def message(channel: str = "email", message_id: str = "m-1", **extra: Any) -> ChannelMessage:
    return ChannelMessage.model_validate(message_body(channel, message_id, **extra))


def opening(
    message: ChannelMessage,
    ticket_id: str = "1001",
    now: datetime = NOW,
    policy: Classification = DEFAULT_POLICY,
    **options: Any,
) -> list[CloudEvent[Any]]:
    classified = classify(
        policy,
        channel=message.channel,
        subject=message.subject,
        text=message.text,
        customer_tier=message.customer_tier,
    )
    return opening_events(message, ticket_id, classified, now, locale="en", **options)


def conversation(
    number: int = 1001, channel: str = "email", status: str = "open", **fields: Any
) -> Conversation:
    """Intake's state of a ticket; any field can be overridden."""
    values: dict[str, Any] = {
        "ticket_id": str(number),
        "status": status,
        "channel": channel,
        "customer_address": ADDRESSES[channel],
        "first_ref": f"ref:{channel}:first-{number}",
        "priority": "P3",
        "tier": 1,
        "updated_at": NOW,
    }
    return Conversation.model_validate({**values, **fields})


def held(slot, input_id: str) -> list:
    """The events a slot's outbox keeps for an input."""
    from kefu.shared.events import decode_event

    return [decode_event(raw) for h in slot.outbox if h.input == input_id for raw in h.events]


def survey_answer(score: int, at: datetime, agent_id: str | None = None) -> SurveyResponded:
    """Ticket 1001's CSAT survey 1001-1 answered with `score`, without a comment."""
    return SurveyResponded(
        survey_id="1001-1",
        ticket_id="1001",
        kind="csat",
        score=score,
        comment=None,
        agent_id=agent_id,
        at=at,
    )

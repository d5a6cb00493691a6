from datetime import UTC, datetime

from services.intake.tickets import opening_events
from shared.inbound import ChannelMessage
from shared.policy import Classification, ClassificationDefault

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def message(**extra) -> ChannelMessage:
    return ChannelMessage.model_validate(
        {
            "channel": "email",
            "message_id": "<a@mail>",
            "from": {"address": "jane@example.com", "name": "Jane"},
            "text": "Hello",
            **extra,
        }
    )


def test_a_new_ticket_is_opened_then_its_message_received() -> None:
    opened, received = opening_events(message(subject="Help"), "1001", Classification(), NOW)
    assert (opened.type, received.type) == ("kefu.ticket.opened", "kefu.ticket.message_received")
    assert opened.data.ticket_id == received.data.ticket_id == "1001"
    assert opened.data.subject == "Help" and opened.data.customer.name == "Jane"
    assert opened.data.opened_at == received.data.received_at == NOW
    assert opened.correlationid == received.correlationid == "email:<a@mail>"


def test_ids_derive_from_the_message_so_a_retry_repeats_them() -> None:
    first = opening_events(message(), "1001", Classification(), NOW)
    again = opening_events(message(), "1001", Classification(), NOW)
    assert (
        [e.id for e in first]
        == [e.id for e in again]
        == ["intake:email:<a@mail>:opened", "intake:email:<a@mail>:message"]
    )


def test_defaults_come_from_the_policy_and_the_message() -> None:
    classification = Classification(
        default=ClassificationDefault(priority="P2", category=["a", "b", "c"], skills=["billing"])
    )
    received_at = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
    opened, _ = opening_events(
        message(locale="zh-CN", customer_tier="vip", received_at=received_at.isoformat()),
        "7",
        classification,
        NOW,
    )
    assert (opened.data.priority, opened.data.skills) == ("P2", ["billing"])
    assert opened.data.locale == "zh-CN" and opened.data.customer.tier == "vip"
    assert opened.data.opened_at == received_at

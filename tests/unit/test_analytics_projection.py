from datetime import UTC, datetime

from services.analytics.projection import apply_event, empty_projection, has_applied
from services.intake.tickets import opening_events
from shared.inbound import ChannelMessage
from shared.policy import Classification

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
MESSAGE = ChannelMessage.model_validate(
    {"channel": "sms", "message_id": "s-1", "from": {"address": "+8613800138000"}, "text": "hi"}
)


def test_opening_events_fold_into_a_new_ticket() -> None:
    opened, received = opening_events(MESSAGE, "1001", Classification(), NOW)
    projection = apply_event(apply_event(empty_projection("1001"), opened), received)
    assert projection["status"] == "new" and projection["priority"] == "P3"
    assert projection["channel"] == "sms" and projection["messages"] == 1
    assert [entry["id"] for entry in projection["timeline"]] == [opened.id, received.id]
    assert has_applied(projection, opened.id) and not has_applied(projection, "other")

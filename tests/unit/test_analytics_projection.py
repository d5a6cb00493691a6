from services.analytics.projection import apply_event, empty_projection, has_applied
from tests.factories import message, opening


def test_opening_events_fold_into_a_new_ticket() -> None:
    opened, received = opening(message("sms", "s-1"))
    projection = apply_event(apply_event(empty_projection("1001"), opened), received)
    assert projection["status"] == "new" and projection["priority"] == "P3"
    assert projection["channel"] == "sms" and projection["messages"] == 1
    assert [entry["id"] for entry in projection["timeline"]] == [opened.id, received.id]
    assert has_applied(projection, opened.id) and not has_applied(projection, "other")

import json
import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from kefu.shared.events import EVENT_TYPES, UnknownEventType, decode_event, new_event
from kefu.shared.events.ops import DeadLetter
from kefu.shared.events.ticket import MessageReceived, StatusChanged
from kefu.shared.topics import Topic, all_topic_names

CONTRACT_TYPES = [
    "kefu.ticket.opened",
    "kefu.ticket.message_received",
    "kefu.ticket.agent_replied",
    "kefu.ticket.note_added",
    "kefu.ticket.status_changed",
    "kefu.ticket.priority_changed",
    "kefu.ticket.reopened",
    "kefu.ticket.transfer_requested",
    "kefu.ticket.escalated",
    "kefu.ticket.category_changed",  # contract 8
    "kefu.ticket.merged",  # contract 8
    "kefu.agent.status_changed",
    "kefu.ticket.assigned",
    "kefu.ticket.queued",
    "kefu.ticket.unassigned",
    "kefu.sla.started",
    "kefu.sla.warning",
    "kefu.sla.breached",
    "kefu.sla.escalated",
    "kefu.sla.met",
    "kefu.notify.requested",
    "kefu.notify.sent",
    "kefu.notify.failed",
    "kefu.notify.suppressed",
    "kefu.survey.issued",
    "kefu.survey.responded",
    "kefu.survey.expired",
    "kefu.survey.detractor",
    "kefu.kpi.snapshot",
    "kefu.ops.surge_started",
    "kefu.ops.surge_ended",
    "kefu.ops.understaffed",  # contract 7
    "kefu.ops.staffed",
    "kefu.agent.command_refused",
    "kefu.agent.transfer_fell_back",  # contract 9
    "kefu.dlq.message",
]


def test_every_contract_event_type_has_a_model() -> None:
    assert sorted(EVENT_TYPES) == sorted(CONTRACT_TYPES)


def test_topics_carry_the_prefix() -> None:
    names = all_topic_names("acme.")
    assert len(names) == 12 and "acme.ticket.events" in names and "acme.dlq" in names


def test_envelope_is_cloudevents_with_rfc3339_utc_and_from_alias() -> None:
    beijing = timezone(timedelta(hours=8))
    data = StatusChanged(
        ticket_id="1001",
        **{"from": "new"},
        to="open",
        by="a-1",
        at=datetime(2026, 11, 23, 18, 0, tzinfo=beijing),
    )
    event = new_event(
        data,
        id="e-1",
        source="kefu/intake",
        correlationid="c-1",
        time=datetime(2026, 11, 23, 10, 0, tzinfo=UTC),
    )
    body = json.loads(event.to_bytes())
    assert body["specversion"] == "1.0" and body["type"] == "kefu.ticket.status_changed"
    assert body["subject"] == "1001" and body["dataschemaversion"] == 1
    assert body["time"] == "2026-11-23T10:00:00.000Z"
    assert body["data"]["at"] == "2026-11-23T10:00:00.000Z"
    assert body["data"]["from"] == "new"
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", body["time"])


def test_decode_round_trips_to_the_typed_model() -> None:
    data = MessageReceived(
        ticket_id="1",
        message_id="m",
        channel="sms",
        **{"from": {"address": "+8613800138000"}},
        text="hi",
        received_at=datetime.now(UTC),
    )
    event = new_event(data, id="x", source="kefu/intake", correlationid="c")
    decoded = decode_event(event.to_bytes())
    assert isinstance(decoded.data, MessageReceived)
    assert decoded.data.sender.address == "+8613800138000"


def test_decode_rejects_unknown_types_and_bad_data() -> None:
    good = json.loads(
        new_event(
            StatusChanged(
                ticket_id="1", **{"from": "new"}, to="open", by="x", at=datetime.now(UTC)
            ),
            id="x",
            source="s",
            correlationid="c",
        ).to_bytes()
    )
    with pytest.raises(UnknownEventType):
        decode_event(json.dumps({**good, "type": "kefu.ticket.vanished"}))
    with pytest.raises(ValidationError):
        decode_event(json.dumps({**good, "data": {**good["data"], "to": "limbo"}}))


def test_dead_letters_are_keyed_by_the_original_key() -> None:
    letter = DeadLetter(
        service="intake",
        source_topic="kefu.channel.inbound",
        partition=0,
        offset=7,
        key="email:a@b.c",
        error="bad",
        payload="x",
        at=datetime.now(UTC),
    )
    assert letter.partition_key() == "email:a@b.c"
    assert letter.topic is Topic.DLQ

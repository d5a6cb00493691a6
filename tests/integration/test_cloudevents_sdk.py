"""The official CloudEvents SDK reads kefu's stream (contract section 3): every record intake
writes — tickets, agents' statuses, dead letters, with trace context in its headers — decodes
through the SDK's Kafka binding, which takes any `ce_` header to mean binary mode."""

import json

import pytest
from cloudevents.core.bindings.kafka import KafkaMessage, from_kafka
from cloudevents.core.formats.json import JSONFormat
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from kefu.asyncapi import CANONICAL_HEADERS
from kefu.shared.events import decode_event
from kefu.shared.topics import Topic, topic_name
from tests.factories import message_body
from tests.integration.conftest import running_intake, unique
from tests.kafka import produce


@pytest.fixture
def traced(monkeypatch) -> None:
    """Tracing on, so that records carry `traceparent` too (spans go nowhere)."""
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp")
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        trace.set_tracer_provider(TracerProvider())


async def test_every_record_intake_writes_decodes_with_the_official_sdk(backend, traced) -> None:
    async with running_intake(backend) as intake:
        address = f"{unique('c')}@example.com"
        first, second = unique("m-"), unique("m-")
        await intake.send(message_body("email", first, address, subject="Where is my parcel"))
        ticket = await intake.ticket_of(f"email:{first}")
        await intake.send(message_body("email", second, address, thread={"in_reply_to": first}))
        agent = unique("agent-")
        await intake.act(
            {
                "action": "presence",
                "agent_id": agent,
                "command_id": unique("p-"),
                "status": "online",
                "capacity": 2,
            }
        )
        await produce(intake.settings, Topic.CHANNEL_INBOUND, b"not json", key=unique("k-"))
        await intake.take(1, type="kefu.dlq.message")
        await intake.take(1, type="kefu.agent.status_changed", subject=agent)
        assert await intake.ticket_of(f"email:{second}") == ticket
        await intake.settle(1.0)

    records = intake.reader.seen
    prefix = intake.settings.topic_prefix
    written_to = (Topic.TICKET_EVENTS, Topic.AGENT_EVENTS, Topic.DLQ)
    assert {record.topic for record in records} == {topic_name(prefix, t) for t in written_to}
    documented = set(CANONICAL_HEADERS["properties"])
    for record in records:
        names = [name for name, _ in record.headers]
        assert len(names) == len(set(names)), names
        headers = dict(record.headers)
        assert not [name for name in names if name.lower().startswith("ce_")], names
        assert set(CANONICAL_HEADERS["required"]) <= set(names) <= documented, names

        event = from_kafka(
            KafkaMessage(headers=headers, key=record.key, value=record.value), JSONFormat()
        )
        written = json.loads(record.value)
        ours = decode_event(record.value)
        assert event.get_specversion() == "1.0"
        assert (event.get_id(), event.get_type(), event.get_source(), event.get_subject()) == (
            ours.id,
            ours.type,
            ours.source,
            ours.subject,
        )
        assert event.get_time() == ours.time
        assert event.get_datacontenttype() == "application/json"
        assert event.get_data() == written["data"]
        assert event.get_extension("correlationid") == ours.correlationid
        assert event.get_extension("partitionkey") == record.key.decode()
        assert headers["kefu-type"] == event.get_type().encode()
        assert headers["content-type"] == b"application/cloudevents+json"

    types = {dict(record.headers)["kefu-type"] for record in records}
    assert {b"kefu.ticket.opened", b"kefu.ticket.message_received"} <= types
    assert {b"kefu.agent.status_changed", b"kefu.dlq.message"} <= types
    # the trace context rides along, and the SDK ignores it
    answers = [r for r in records if dict(r.headers)["kefu-type"] != b"kefu.dlq.message"]
    assert all("traceparent" in dict(record.headers) for record in answers)

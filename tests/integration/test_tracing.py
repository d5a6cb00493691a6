"""Traces: with the standard OTEL_* variables set, one customer message is one trace through
intake and router (the trace context rides in the Kafka headers); the SDK's in-memory
exporter stands in for the OTLP collector. Without them, nothing is traced."""

import asyncio

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from kefu.embedded import free_port
from kefu.services.intake.app import build as build_intake
from kefu.services.router.app import build as build_router
from kefu.shared.admin import create_topics
from kefu.shared.topics import Topic
from kefu.shared.tracing import tracer_for
from tests.conftest import TEST_PARTITIONS, isolated_settings
from tests.factories import message_body
from tests.integration.conftest import served, unique
from tests.kafka import TopicReader, produce


def test_tracing_is_off_unless_asked_for(monkeypatch) -> None:
    for name in ("OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    assert tracer_for("intake") is None
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")
    assert tracer_for("intake") is None


@pytest.fixture
def spans(monkeypatch) -> InMemorySpanExporter:
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp")
    exporter = InMemorySpanExporter()
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return exporter


async def test_one_message_is_one_trace_through_intake_and_router(backend, spans) -> None:
    settings = isolated_settings(backend)
    await create_topics(settings, TEST_PARTITIONS)
    async with (
        served(build_intake(settings), free_port()),
        served(build_router(settings), free_port()),
        TopicReader(settings, Topic.ROUTING_EVENTS) as routing,
    ):
        body = message_body("email", unique("<t-"), "jane@example.com")
        await produce(settings, Topic.CHANNEL_INBOUND, body, key="email:jane@example.com")
        await routing.take(1, lambda v: v["type"] == "kefu.ticket.queued", wait_s=20)
        await asyncio.sleep(0.2)
    processed = {span.name: span for span in spans.get_finished_spans()}
    inbound = processed[f"{settings.topic_prefix}channel.inbound process"]
    tickets = processed[f"{settings.topic_prefix}ticket.events process"]
    assert inbound.context.trace_id == tickets.context.trace_id
    assert tickets.parent is not None and tickets.parent.span_id == inbound.context.span_id

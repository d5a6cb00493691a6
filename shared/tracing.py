"""Traces (OpenTelemetry), off unless the standard variables ask for them
(`OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, or
`OTEL_TRACES_EXPORTER` other than `none`); then spans go to the OTLP exporter those
variables configure.

Each input of a batch gets its own `process` span, a child of the trace context its record
carries in its Kafka headers (W3C `traceparent`); an event published while the batch is
handled carries the context of the input it answers, found by correlation id (every kefu
service passes its cause's correlation id on). So one customer message is one trace through
intake, router, sla and the rest, batches or not. Log lines written in a span carry its
`trace_id` and `span_id` (`trace_ids`, used by shared/logs.py).
"""

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

ENABLING = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
_causes: ContextVar[dict[str, Context] | None] = ContextVar("kefu_trace_causes", default=None)


def tracing_enabled() -> bool:
    exporter = os.environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    return exporter not in ("", "none") or any(os.environ.get(name) for name in ENABLING)


def tracer_for(service: str) -> trace.Tracer | None:
    """The service's tracer, or None when tracing is off. A provider set up before (by the
    process, or a test) is used as it is."""
    if not tracing_enabled():
        return None
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider = TracerProvider(resource=Resource.create({"service.name": f"kefu-{service}"}))
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        trace.set_tracer_provider(provider)
    return provider.get_tracer("kefu", schema_url=None)


class Tracing:
    def __init__(self, service: str, tracer: trace.Tracer | None) -> None:
        self.service = service
        self.tracer = tracer

    @contextmanager
    def handling(self, inputs: Sequence[Any]) -> Iterator[None]:
        """A `process` span per input while the batch is handled (nothing when off)."""
        if self.tracer is None or not inputs:
            yield
            return
        spans, causes = [], {}
        for one in inputs:
            record = one.record
            parent = propagate.extract(_carrier(record.headers))
            span = self.tracer.start_span(
                f"{record.topic} process",
                context=parent,
                kind=trace.SpanKind.CONSUMER,
                attributes={
                    "messaging.system": "kafka",
                    "messaging.destination.name": record.topic,
                    "messaging.consumer.group.name": self.service,
                },
            )
            spans.append(span)
            correlation = one.log_fields.get("correlation_id")
            if correlation:
                causes[str(correlation)] = trace.set_span_in_context(span)
        token = _causes.set(causes)
        try:
            yield
        finally:
            _causes.reset(token)
            for span in spans:
                span.end()


def trace_headers(correlation_id: str) -> list[tuple[str, bytes]]:
    """The trace context of the input an event answers, as Kafka headers."""
    causes = _causes.get()
    context = causes.get(correlation_id) if causes else None
    if context is None:
        return []
    carrier: dict[str, str] = {}
    propagate.inject(carrier, context=context)
    return [(name, value.encode()) for name, value in carrier.items()]


def _carrier(headers: Any) -> dict[str, str]:
    return {name: value.decode(errors="replace") for name, value in headers or () if value}


def trace_ids(correlation_id: object = None) -> dict[str, str]:
    """The ids of the recording span a log line is written in, as OpenTelemetry prints them
    (32 and 16 hex digits); none when tracing is off. A batch's `process` spans are not the
    current span (one batch, many inputs), so a line about one input (it carries that
    input's correlation id) gets the ids of that input's span."""
    span = trace.get_current_span()
    if not span.is_recording() and correlation_id is not None:
        causes = _causes.get()
        context = causes.get(str(correlation_id)) if causes else None
        if context is not None:
            span = trace.get_current_span(context)
    if not span.is_recording():
        return {}
    ids = span.get_span_context()
    return {
        "trace_id": trace.format_trace_id(ids.trace_id),
        "span_id": trace.format_span_id(ids.span_id),
    }

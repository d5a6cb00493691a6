import json
import logging
import warnings
from types import SimpleNamespace

import structlog
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from kefu.shared.logs import configure_logging, mask
from kefu.shared.tracing import Tracing


def test_mask_hides_emails_and_e164_numbers_but_not_dates() -> None:
    text = "jane.doe@example.com +8613800138000 at 2026-11-23T04:02:45Z offset 123456789"
    assert mask(text) == "j***@example.com +*********8000 at 2026-11-23T04:02:45Z offset 123456789"


def test_json_log_lines_are_masked_and_carry_bound_ids(capsys) -> None:
    configure_logging("INFO", "json", service="intake")
    with structlog.contextvars.bound_contextvars(ticket_id="1001", event_id="e-1"):
        structlog.get_logger("t").info("message from", sender="jane@example.com")
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["sender"] == "j***@example.com"
    assert line["ticket_id"] == "1001" and line["event_id"] == "e-1"
    assert line["service"] == "intake" and line["level"] == "info"


def test_ids_are_not_masked_addresses_are(capsys) -> None:
    configure_logging("INFO", "json", service="intake")
    correlation = "email:<CAF1x.y@mail.example.com>"
    with structlog.contextvars.bound_contextvars(correlation_id=correlation):
        structlog.get_logger("t").info("joined", sender="<jane@example.com>")
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["correlation_id"] == correlation
    assert line["sender"] == "<j***@example.com>"


def json_lines(err: str) -> list[dict]:
    """Every line of stderr, each of which must be one JSON object."""
    lines = [json.loads(line) for line in err.splitlines()]
    assert all(isinstance(line, dict) for line in lines), lines
    return lines


def test_library_lines_are_json_too_masked_alike(capsys) -> None:
    configure_logging("INFO", "json", service="intake")
    structlog.get_logger("kefu.test").info("from kefu", sender="jane@example.com")
    logging.getLogger("aiokafka").warning("coordinator %s is gone", "jane@example.com")
    logging.getLogger("aiokafka").info("fetching")  # libraries stay at WARNING
    logging.getLogger("uvicorn.error").error("caller +8613800138000 hung up")
    try:
        raise ValueError("no reply from bob@example.com")
    except ValueError:
        logging.getLogger("pymongo").error("command failed", exc_info=True)
    lines = json_lines(capsys.readouterr().err)
    assert [line["event"] for line in lines] == [
        "from kefu",
        "coordinator j***@example.com is gone",
        "caller +*********8000 hung up",
        "command failed",
    ]
    for line in lines:
        assert {"level", "timestamp", "event"} <= line.keys() and line["service"] == "intake"
    assert [(line["logger"], line["level"]) for line in lines] == [
        ("kefu.test", "info"),
        ("aiokafka", "warning"),
        ("uvicorn.error", "error"),
        ("pymongo", "error"),
    ]
    assert lines[0]["sender"] == "j***@example.com"
    assert "b***@example.com" in lines[3]["exception"] and "bob@" not in lines[3]["exception"]


def test_debug_opens_the_libraries_and_warnings_are_lines(capsys) -> None:
    try:
        configure_logging("DEBUG", "json", service="intake")
        logging.getLogger("aiokafka").debug("fetching")
        warnings.warn("deprecated knob", UserWarning, stacklevel=1)
        lines = json_lines(capsys.readouterr().err)
    finally:
        configure_logging("INFO", "json", service="intake")
    assert [line["logger"] for line in lines] == ["aiokafka", "py.warnings"]
    assert "deprecated knob" in lines[1]["event"]


def test_lines_inside_a_span_carry_its_trace_and_span_ids(capsys) -> None:
    configure_logging("INFO", "json", service="intake")
    tracer = TracerProvider().get_tracer("test")
    log = structlog.get_logger("kefu.test")
    with tracer.start_as_current_span("handling") as span:
        log.info("inside")
        logging.getLogger("aiokafka").warning("inside too")
    log.info("outside")
    inside, library, outside = json_lines(capsys.readouterr().err)
    ids = span.get_span_context()
    for line in (inside, library):
        assert line["trace_id"] == f"{ids.trace_id:032x}"
        assert line["span_id"] == f"{ids.span_id:016x}"
    assert "trace_id" not in outside and "span_id" not in outside


def test_a_line_about_one_input_of_a_batch_carries_that_inputs_span(capsys) -> None:
    """A batch's `process` spans are not current; the bound correlation id finds the one."""
    configure_logging("INFO", "json", service="intake")
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing = Tracing("intake", provider.get_tracer("test"))
    inputs = [
        SimpleNamespace(
            record=SimpleNamespace(topic="channel.inbound", headers=[]),
            log_fields={"correlation_id": f"email:m-{n}"},
        )
        for n in (1, 2)
    ]
    log = structlog.get_logger("kefu.test")
    with tracing.handling(inputs):
        with structlog.contextvars.bound_contextvars(correlation_id="email:m-2"):
            log.info("ticket opened")
        log.info("batch handled")
    about_one, about_all = json_lines(capsys.readouterr().err)
    second = exporter.get_finished_spans()[1].get_span_context()
    assert (about_one["trace_id"], about_one["span_id"]) == (
        f"{second.trace_id:032x}",
        f"{second.span_id:016x}",
    )
    assert "trace_id" not in about_all

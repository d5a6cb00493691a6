"""Logging: one JSON object (or console line) per line on stderr, customer emails and phone
numbers masked, trace ids on the lines written inside a span.

structlog's loggers and the standard library's (aiokafka, uvicorn, pymongo, FastStream's
own, Python warnings) end in the same handler, whose `ProcessorFormatter` gives both the
same processors and the same renderer (structlog's "rendering using structlog-based
formatters within logging"): a library's plain-text line never lands in the JSON stream.
"""

import logging
import re
import sys
from typing import Any

import structlog

from kefu.shared.tracing import trace_ids

_EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+\.[A-Za-z]{2,})")
_PHONE = re.compile(r"\+\d[\d -]{5,18}\d")
# Ids name messages and events, not people: an email's Message-ID has an `@` but is no address.
IDS = (
    "timestamp",
    "level",
    "event_id",
    "correlation_id",
    "message_id",
    "trace_id",
    "span_id",
)
# kefu's loggers, structlog's and any `logging.getLogger("kefu…")`, log at KEFU_LOG_LEVEL.
ROOT = "kefu"
# Libraries that set up logging of their own at import; their records go to ours instead.
_OWN_HANDLERS = ("faststream",)


def _mask_phone(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group())
    return "+" + "*" * (len(digits) - 4) + digits[-4:]


def mask(text: str) -> str:
    """`jane.doe@example.com` → `j***@example.com`; `+8613800138000` → `+*********8000`."""
    return _PHONE.sub(_mask_phone, _EMAIL.sub(r"\1***@\2", text))


def _mask_value(value: Any) -> Any:
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, dict):
        return {key: _mask_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_mask_value(item) for item in value]
    return value


def _mask_processor(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    return {key: value if key in IDS else _mask_value(value) for key, value in event_dict.items()}


def _add_trace_ids(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    event_dict.update(trace_ids(event_dict.get("correlation_id")))
    return event_dict


def _kefu_logger(name: str | None = None, *_: Any) -> logging.Logger:
    """The standard library logger behind `get_logger(name)`: under `kefu`, so that kefu's
    level is not the libraries' (FastStream writes through `get_logger("faststream")`)."""
    if not name or name == ROOT or name.startswith(f"{ROOT}."):
        return logging.getLogger(name or ROOT)
    return logging.getLogger(f"{ROOT}.{name}")


class _Stderr(logging.Handler):
    """Writes to whatever `sys.stderr` is when a line is written (as `logging.lastResort`
    does), not to the one there was at set-up: tests swap it."""

    terminator = "\n"

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
            stream = sys.stderr
            stream.write(line + self.terminator)
            stream.flush()
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)


def configure_logging(level: str = "INFO", fmt: str = "json", service: str = "kefu") -> None:
    """Set up logging for the whole process (called again, it replaces its own handler)."""
    renderer: Any = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    # what every line gets, whoever wrote it, while still in the writer's context (so the
    # current span, the bound ids)
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _add_trace_ids,
    ]
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,  # before masking: tracebacks are text
            _mask_processor,
            renderer,
        ],
    )
    threshold = logging.getLevelName(level)
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        wrapper_class=structlog.make_filtering_bound_logger(threshold),
        logger_factory=_kefu_logger,
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(service=service)

    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _Stderr)]:
        root.removeHandler(handler)
    handler = _Stderr()
    handler.setFormatter(formatter)
    root.addHandler(handler)
    # Libraries stay at WARNING: at INFO aiokafka, pymongo, uvicorn and httpx write a line
    # per connection, rebalance or request. KEFU_LOG_LEVEL=DEBUG opens everything, libraries
    # included, for chasing a fault (pymongo's DEBUG lines then show commands and documents;
    # only emails and phone numbers are masked in them).
    root.setLevel(logging.DEBUG if threshold <= logging.DEBUG else logging.WARNING)
    logging.getLogger(ROOT).setLevel(threshold)
    for name in _OWN_HANDLERS:
        library = logging.getLogger(name)
        library.handlers.clear()
        library.propagate = True
        library.setLevel(logging.NOTSET)
    # `warnings` as log lines, not two lines of plain text; installed anew each time, as
    # whoever swapped `warnings.showwarning` since (pytest does) may have dropped ours
    logging.captureWarnings(False)
    logging.captureWarnings(True)


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)

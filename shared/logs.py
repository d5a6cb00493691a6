"""structlog set-up: JSON or console lines, with customer emails and phone numbers masked."""

import logging
import re
import sys
from typing import Any

import structlog

_EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+\.[A-Za-z]{2,})")
_PHONE = re.compile(r"\+\d[\d -]{5,18}\d")
# Ids name messages and events, not people: an email's Message-ID has an `@` but is no address.
IDS = ("timestamp", "level", "event_id", "correlation_id", "message_id")


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


def configure_logging(level: str = "INFO", fmt: str = "json", service: str = "kefu") -> None:
    renderer: Any = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            _mask_processor,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(service=service)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(name)s %(message)s")


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)

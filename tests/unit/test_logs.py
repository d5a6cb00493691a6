import json

import structlog

from shared.logs import configure_logging, mask


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

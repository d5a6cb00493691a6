import json

from pydantic import ValidationError

from shared.guard import PoisonMessage, _payload_text, describe
from shared.inbound import ChannelMessage


def test_reasons_name_the_fields_that_are_wrong() -> None:
    try:
        ChannelMessage.model_validate({"channel": "fax", "message_id": "", "text": "x"})
    except ValidationError as error:
        reason = describe(error, b'{"channel": "fax"}')
    assert reason.startswith("invalid payload: ")
    assert "channel: Input should be" in reason and "from: Field required" in reason


def test_reasons_for_bytes_that_are_not_json() -> None:
    assert describe(json.JSONDecodeError("Expecting value", "x", 0)).startswith("not UTF-8 JSON")
    assert describe(PoisonMessage("closed ticket")) == "closed ticket"


def test_payloads_are_text_when_utf8_else_base64() -> None:
    assert _payload_text("你好".encode()) == ("你好", "utf-8")
    assert _payload_text(b"\xff\xfe") == ("//4=", "base64")

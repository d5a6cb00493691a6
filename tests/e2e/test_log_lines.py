"""A service as a process writes nothing but JSON lines, its libraries' lines included: at
DEBUG, uvicorn, aiokafka, pymongo and asyncio all speak, through kefu's formatter."""

import json

import pytest

from kefu.shared.settings import Settings
from kefu.shared.topics import Topic
from tests.e2e.processes import start_service
from tests.factories import message_body
from tests.kafka import TopicReader, produce

pytestmark = pytest.mark.e2e


async def test_kefu_run_intake_writes_only_json_lines(settings: Settings, tmp_path, monkeypatch):
    monkeypatch.setenv("KEFU_LOG_FORMAT", "json")
    monkeypatch.setenv("KEFU_LOG_LEVEL", "DEBUG")
    intake = start_service("intake", settings, tmp_path)
    try:
        async with TopicReader(settings, Topic.TICKET_EVENTS) as reader:
            body = message_body("email", "<m-logs@mail>", "jane@example.com")
            await produce(settings, Topic.CHANNEL_INBOUND, body, key="email:jane@example.com")
            await reader.take(2, wait_s=20)
        intake.popen.terminate()
        assert intake.popen.wait(20) == 0
    finally:
        if intake.popen.poll() is None:
            intake.popen.kill()
    text = intake.log.read_text(encoding="utf-8")
    lines = []
    for number, line in enumerate(text.splitlines(), 1):
        try:
            lines.append(json.loads(line))
        except ValueError:
            pytest.fail(f"line {number} is not JSON: {line!r}")
    assert all(
        isinstance(line, dict) and {"level", "timestamp", "event"} <= line.keys() for line in lines
    )
    loggers = {line["logger"].split(".")[0] for line in lines}
    assert {"kefu", "uvicorn", "aiokafka", "pymongo"} <= loggers, loggers
    assert any(line["event"] == "ticket opened" for line in lines)
    assert "jane@example.com" not in text  # masked in every line, the libraries' too

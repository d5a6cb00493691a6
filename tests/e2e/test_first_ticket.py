"""The platform as processes (`kefu run …`), driven through Kafka and checked in MongoDB."""

import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator

import pytest
from pymongo import AsyncMongoClient

from shared.embedded import free_port
from shared.settings import Settings
from shared.topics import Topic
from tests.kafka import TopicReader, produce

pytestmark = pytest.mark.e2e


@pytest.fixture
def services(settings: Settings, tmp_path) -> Iterator[dict[str, tuple[subprocess.Popen, int]]]:
    env = {
        **os.environ,
        "KEFU_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "KEFU_MONGODB_URL": settings.mongodb_url.get_secret_value(),
        "KEFU_MONGODB_DB": settings.mongodb_db,
        "KEFU_TOPIC_PREFIX": settings.topic_prefix,
        "KEFU_KAFKA_SESSION_TIMEOUT_MS": str(settings.kafka_session_timeout_ms),
    }
    running = {}
    for name in ("intake", "analytics"):
        port = free_port()
        popen = subprocess.Popen(
            [sys.executable, "-m", "shared.cli", "run", name],
            env={**env, "KEFU_HTTP_PORT": str(port)},
            stdout=(tmp_path / f"{name}.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        running[name] = (popen, port)
    try:
        for name, (popen, port) in running.items():
            _wait_ready(popen, port, tmp_path / f"{name}.log")
        yield running
    finally:
        for popen, _ in running.values():
            if popen.poll() is None:
                popen.kill()


def _wait_ready(popen: subprocess.Popen, port: int, log) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert popen.poll() is None, log.read_text()
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as reply:
                if reply.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"not ready: {log.read_text()}")


async def test_a_channel_message_becomes_a_ticket_in_mongodb(settings: Settings, services) -> None:
    message = {
        "channel": "email",
        "message_id": "<m1@mail>",
        "from": {"address": "jane@example.com"},
        "subject": "Cannot log in",
        "text": "Since this morning.",
    }
    async with TopicReader(settings, Topic.TICKET_EVENTS, Topic.DLQ) as reader:
        await produce(settings, Topic.CHANNEL_INBOUND, b"{broken", key="email:jane@example.com")
        await produce(settings, Topic.CHANNEL_INBOUND, message, key="email:jane@example.com")
        opened = (await reader.take(1, lambda e: e["type"] == "kefu.ticket.opened"))[0]
        letters = await reader.take(1, lambda e: e["type"] == "kefu.dlq.message")

    ticket_id = opened["data"]["ticket_id"]
    projection = await _projection(settings, ticket_id)
    assert projection["status"] == "new" and projection["subject"] == "Cannot log in"
    assert [e["type"] for e in projection["timeline"]][:2] == [
        "kefu.ticket.opened",
        "kefu.ticket.message_received",
    ]
    assert letters[0]["data"]["error"].startswith("not UTF-8 JSON")

    for name, (popen, port) in services.items():
        metrics = await asyncio.to_thread(_get, f"http://127.0.0.1:{port}/metrics")
        assert b"faststream_received_messages_total" in metrics, name
        popen.send_signal(signal.SIGTERM)
    for popen, _ in services.values():
        assert popen.wait(15) == 0


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=2) as reply:
        return reply.read()


async def _projection(settings: Settings, ticket_id: str) -> dict:
    client: AsyncMongoClient = AsyncMongoClient(settings.mongodb_url.get_secret_value())
    try:
        collection = client[settings.mongodb_db]["analytics_tickets"]
        for _ in range(100):
            doc = await collection.find_one({"_id": ticket_id})
            if doc and len(doc["timeline"]) >= 2:
                return doc
            await asyncio.sleep(0.1)
        raise AssertionError(f"no projection for ticket {ticket_id}")
    finally:
        await client.close()

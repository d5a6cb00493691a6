"""The platform as processes (`kefu run …`), driven through Kafka and checked in MongoDB."""

import asyncio
import signal
import urllib.request
from collections.abc import Iterator

import pytest
from pymongo import AsyncMongoClient

from kefu.shared.settings import Settings
from kefu.shared.topics import Topic
from tests.e2e.processes import RunningService, start_service
from tests.kafka import TopicReader, produce

pytestmark = pytest.mark.e2e


@pytest.fixture
def services(settings: Settings, tmp_path) -> Iterator[dict[str, RunningService]]:
    running = {}
    try:
        for name in ("intake", "analytics"):
            running[name] = start_service(name, settings, tmp_path)
        yield running
    finally:
        for service in running.values():
            if service.popen.poll() is None:
                service.popen.kill()


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
    assert projection["messages"] == 1
    assert letters[0]["data"]["error"].startswith("not UTF-8 JSON")

    for name, service in services.items():
        metrics = await asyncio.to_thread(_get, f"http://127.0.0.1:{service.port}/metrics")
        assert b"faststream_received_messages_total" in metrics, name
        assert b"kefu_store_commands_total" in metrics, name
        assert b"process_cpu_seconds_total" in metrics, name
        service.popen.send_signal(signal.SIGTERM)
    for service in services.values():
        assert service.popen.wait(15) == 0


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=2) as reply:
        return reply.read()


async def _projection(settings: Settings, ticket_id: str) -> dict:
    client: AsyncMongoClient = AsyncMongoClient(settings.mongodb_url.get_secret_value())
    try:
        collection = client[settings.mongodb_db]["analytics_tickets"]
        for _ in range(100):
            doc = await collection.find_one({"_id": ticket_id})
            if doc and doc["state"]["messages"] >= 1:
                return doc["state"]
            await asyncio.sleep(0.1)
        raise AssertionError(f"no projection for ticket {ticket_id}")
    finally:
        await client.close()

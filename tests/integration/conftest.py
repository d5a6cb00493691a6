"""A running intake (served by uvicorn on a real port) and helpers to drive it through Kafka."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from kefu.embedded import free_port
from kefu.services.intake.app import build
from kefu.shared.admin import create_topics
from kefu.shared.settings import Settings
from kefu.shared.topics import Topic
from tests.conftest import TEST_PARTITIONS, Backend, isolated_settings
from tests.kafka import TopicReader, produce

TOKEN = "test-agent-token"
POLICY = Path(__file__).parents[2] / "deploy" / "policy.yaml"  # the shipped policy


@asynccontextmanager
async def served(app: Any, port: int) -> AsyncIterator[None]:
    """An ASGI app on 127.0.0.1:port, with its lifespan (the broker) started."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="on", log_config=None)
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.05)
    try:
        yield
    finally:
        server.should_exit = True
        await task


def unique(prefix: str = "") -> str:
    return f"{prefix}{uuid.uuid4().hex[:12]}"


@dataclass
class RunningIntake:
    settings: Settings
    reader: TopicReader
    url: str

    async def send(self, *bodies: dict[str, Any]) -> None:
        """Customer messages to channel.inbound, keyed as an adapter would key them."""
        for body in bodies:
            conversation = (body.get("thread") or {}).get("conversation_id")
            key = f"{body['channel']}:{conversation or body['from']['address']}"
            await produce(self.settings, Topic.CHANNEL_INBOUND, body, key=key)

    async def act(self, *commands: dict[str, Any]) -> None:
        for command in commands:
            await produce(self.settings, Topic.AGENT_INBOUND, command, key=command["agent_id"])

    async def take(self, count: int, wait_s: float = 20, **match: Any) -> list[dict[str, Any]]:
        """The first `count` events whose fields match (`subject` is the ticket or agent id)."""

        def matches(event: dict[str, Any]) -> bool:
            return all(event.get(field) == value for field, value in match.items())

        found = await self.reader.take(count, matches, wait_s=wait_s)
        assert len(found) == count, f"wanted {count} events matching {match}, got {found}"
        return found

    async def ticket_of(self, message_key: str) -> str:
        """The ticket id the message with this dedupe key went to."""
        [received] = await self.take(
            1, correlationid=message_key, type="kefu.ticket.message_received"
        )
        return received["data"]["ticket_id"]

    async def settle(self, seconds: float = 1.5) -> list[dict[str, Any]]:
        return await self.reader.settle(seconds)


@asynccontextmanager
async def running_intake(
    backend: Backend, settings: Settings | None = None, **overrides: Any
) -> AsyncIterator[RunningIntake]:
    """Intake on its own topics and database, or on those of `settings` (a restart)."""
    if settings is None:
        overrides = {"api_tokens": f"{TOKEN}:agent", "config": POLICY, **overrides}
        settings = isolated_settings(backend, **overrides)
        await create_topics(settings, TEST_PARTITIONS)
    port = free_port()
    topics = (Topic.TICKET_EVENTS, Topic.AGENT_EVENTS, Topic.DLQ)
    async with served(build(settings), port), TopicReader(settings, *topics) as reader:
        yield RunningIntake(settings, reader, f"http://127.0.0.1:{port}")


@pytest.fixture(scope="module")
async def intake(backend: Backend) -> AsyncIterator[RunningIntake]:
    async with running_intake(backend) as running:
        yield running

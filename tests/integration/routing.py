"""A running router (served by uvicorn on a real port) and canonical events to drive it."""

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from kefu.embedded import free_port
from kefu.services.router.app import build
from kefu.shared.admin import create_topics
from kefu.shared.events import new_event
from kefu.shared.events.agent import AgentStatusChanged
from kefu.shared.events.base import EventData
from kefu.shared.events.ticket import Customer, TicketOpened
from kefu.shared.service import Service
from kefu.shared.settings import Settings
from kefu.shared.topics import Topic
from tests.conftest import TEST_PARTITIONS, Backend, isolated_settings
from tests.integration.conftest import served
from tests.kafka import TopicReader


def event(data: EventData, at: datetime | None = None) -> Any:
    return new_event(
        data, id=f"t-{uuid.uuid4().hex}", source="kefu/test", correlationid="c", time=at
    )


def opened(
    ticket_id: str, customer: str = "", customer_tier: str = "standard", **fields: Any
) -> Any:
    address = customer or f"{ticket_id}@example.com"
    values: dict[str, Any] = {
        "ticket_id": ticket_id,
        "channel": "email",
        "customer": Customer(address=address, tier=customer_tier),
        "priority": "P3",
        "category": ["general", "inquiry", "other"],
        "skills": ["general"],
        "tier": 1,
        "locale": "en",
        "first_message_id": f"m-{ticket_id}",
        "opened_at": datetime.now(UTC),
    }
    return event(TicketOpened(**{**values, **fields}))


def agent(agent_id: str, status: str = "online", capacity: int = 2, **fields: Any) -> Any:
    values = {"skills": ["general"], "tier": 1, "at": datetime.now(UTC), **fields}
    return event(AgentStatusChanged(agent_id=agent_id, status=status, capacity=capacity, **values))


@dataclass
class RunningRouter:
    settings: Settings
    reader: TopicReader
    publisher: Service

    async def send(self, *events: Any) -> None:
        for one in events:
            await self.publisher.bus.publish(one)

    async def routed(self, count: int, wait_s: float = 20, **match: Any) -> list[dict[str, Any]]:
        """The first `count` routing events whose type and data fields match."""
        kind = match.pop("type", None)

        def matches(value: dict[str, Any]) -> bool:
            if kind and value.get("type") != f"kefu.ticket.{kind}":
                return False
            return all(value["data"].get(k) == v for k, v in match.items())

        found = await self.reader.take(count, matches, wait_s=wait_s)
        if len(found) < count:
            seen = [(v["type"], v["data"]) for v in await self.reader.settle(0)]
            raise AssertionError(f"wanted {count} {kind} {match}, got {found}; all: {seen}")
        return [value["data"] for value in found]

    async def settle(self, seconds: float = 1.0) -> list[dict[str, Any]]:
        return [value for value in await self.reader.settle(seconds) if "data" in value]


@asynccontextmanager
async def running_router(
    backend: Backend, tmp_path: Path, settings: Settings | None = None, **routing: Any
) -> AsyncIterator[RunningRouter]:
    if settings is None:
        policy = tmp_path / f"policy-{uuid.uuid4().hex[:6]}.yaml"
        policy.write_text(yaml.safe_dump({"routing": routing}), encoding="utf-8")
        settings = isolated_settings(backend, config=policy)
        await create_topics(settings, TEST_PARTITIONS)
    publisher = Service.create("publisher", settings)
    publisher.bus.declare_publishes(
        Topic.TICKET_EVENTS, Topic.AGENT_EVENTS, Topic.SLA_EVENTS, Topic.OPS_EVENTS
    )
    async with (
        served(build(settings), free_port()),
        publisher.app(),
        TopicReader(settings, Topic.ROUTING_EVENTS) as reader,
    ):
        yield RunningRouter(settings, reader, publisher)


def minutes_ago(minutes: float) -> datetime:
    return datetime.now(UTC) - timedelta(minutes=minutes)

"""Contract 4 for the router as processes: capacity and single ownership hold with two
replicas, and a SIGKILL in the middle of a load loses and doubles nothing."""

import asyncio
from collections import Counter
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from kefu.shared.events.ticket import StatusChanged
from kefu.shared.service import Service
from kefu.shared.settings import Settings
from kefu.shared.topics import Topic
from tests.e2e.processes import start_service
from tests.integration.routing import agent, event, opened
from tests.kafka import TopicReader

pytestmark = pytest.mark.e2e


def assigned(event: dict[str, Any]) -> bool:
    return bool(event["type"] == "kefu.ticket.assigned")


def assignments(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each assigned event once (repeats of an id carry the same data)."""
    by_id: dict[str, dict[str, Any]] = {}
    for one in events:
        assert by_id.setdefault(one["id"], one) == one, "an id carried different data"
    return [one["data"] for one in by_id.values() if assigned(one)]


async def roster(settings: Settings) -> dict[str, list[str]]:
    client: AsyncMongoClient = AsyncMongoClient(settings.mongodb_url.get_secret_value())
    try:
        agents = client[settings.mongodb_db]["router_agents"].find({})
        return {doc["_id"]: doc["state"]["tickets"] async for doc in agents}
    finally:
        await client.close()


def assert_held_once_within_capacity(held: dict[str, list[str]], capacity: int) -> None:
    every = [ticket for tickets in held.values() for ticket in tickets]
    assert len(every) == len(set(every)), "a ticket is held by two agents"
    assert all(len(tickets) <= capacity for tickets in held.values()), held


async def test_two_replicas_never_exceed_capacity_nor_share_a_ticket(
    settings: Settings, tmp_path
) -> None:
    replicas = [start_service("router", settings, tmp_path) for _ in range(2)]
    publisher = Service.create("publisher", settings)
    publisher.bus.declare_publishes(Topic.TICKET_EVENTS, Topic.AGENT_EVENTS)
    tickets = [str(10000 + n) for n in range(60)]
    try:
        async with publisher.app(), TopicReader(settings, Topic.ROUTING_EVENTS) as reader:
            await asyncio.sleep(3)  # both replicas are in the group
            await publisher.bus.publish(*(agent(f"a{n}", capacity=5) for n in range(3)))
            await asyncio.sleep(1.5)  # both replicas know the agents: they race for them
            await publisher.bus.publish(*(opened(ticket) for ticket in tickets))
            await reader.take(15, assigned, wait_s=60, repeats=False)
            await reader.settle(2.0)
            first = assignments(await reader.settle(0))
            assert len(first) == 15
            assert max(Counter(a["agent_id"] for a in first).values()) == 5
            assert_held_once_within_capacity(await roster(settings), 5)
            done = 0
            while done < len(tickets):  # solve what is held; the queue fills the slots
                held = assignments(await reader.settle(0))
                solving = [a["ticket_id"] for a in held][done:]
                await publisher.bus.publish(*(solved(ticket) for ticket in solving))
                done += len(solving)
                await reader.take(min(done + 15, len(tickets)), assigned, wait_s=60, repeats=False)
            events = await reader.settle(2.0)
    finally:
        for replica in replicas:
            replica.popen.kill()
    every = assignments(events)
    assert sorted(a["ticket_id"] for a in every) == tickets  # each exactly once
    assert_held_once_within_capacity(await roster(settings), 5)


async def test_a_router_killed_mid_load_assigns_every_ticket_exactly_once(
    settings: Settings, tmp_path
) -> None:
    router = start_service("router", settings, tmp_path)
    publisher = Service.create("publisher", settings)
    publisher.bus.declare_publishes(Topic.TICKET_EVENTS, Topic.AGENT_EVENTS)
    tickets = [str(20000 + n) for n in range(200)]
    try:
        async with publisher.app(), TopicReader(settings, Topic.ROUTING_EVENTS) as reader:
            await publisher.bus.publish(*(agent(f"b{n}", capacity=50) for n in range(4)))
            sending = asyncio.create_task(send_slowly(publisher, tickets))
            await reader.take(50, assigned, wait_s=60)
            router.popen.kill()  # SIGKILL mid-load
            await asyncio.sleep(1)
            router = start_service("router", settings, tmp_path)
            await sending
            await reader.take(200, assigned, wait_s=90, repeats=False)
            events = await reader.settle(2.0)
    finally:
        router.popen.kill()
    every = assignments(events)
    assert sorted(a["ticket_id"] for a in every) == tickets  # none lost, none twice
    held = await roster(settings)
    assert_held_once_within_capacity(held, 50)
    assert sorted(t for ts in held.values() for t in ts) == tickets


async def send_slowly(publisher: Service, tickets: list[str]) -> None:
    for start in range(0, len(tickets), 10):
        await publisher.bus.publish(*(opened(ticket) for ticket in tickets[start : start + 10]))
        await asyncio.sleep(0.05)


def solved(ticket_id: str) -> Any:
    from datetime import UTC, datetime

    data = StatusChanged(
        ticket_id=ticket_id, from_status="open", to="solved", by="a", at=datetime.now(UTC)
    )
    return event(data)

"""Contract 4 for the sla service as processes: timers survive a SIGKILL (every breach fires
exactly once, those that came due meanwhile within 2 s of the restart), and two replicas
never fire one timer twice."""

import asyncio
import json
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from kefu.shared.admin import create_topics
from kefu.shared.service import Service
from kefu.shared.settings import Settings
from kefu.shared.topics import Topic
from tests import sla_events as ev
from tests.conftest import TEST_PARTITIONS, isolated_settings
from tests.e2e.processes import start_service
from tests.kafka import TopicReader

pytestmark = pytest.mark.e2e
TARGET_S = 4
POLICY = {
    "sla": {
        "policies": [
            {
                "name": "fast",
                "targets": {"first_response": f"{TARGET_S}s"},
                "warn_at": None,
                "escalation": [{"at": "breach", "notify": ["supervisor"]}],
            }
        ]
    }
}


@pytest.fixture
async def settings(backend, tmp_path) -> Settings:
    policy = tmp_path / "policy.yaml"
    policy.write_text(yaml.safe_dump(POLICY), encoding="utf-8")
    settings = isolated_settings(backend, config=policy)
    await create_topics(settings, TEST_PARTITIONS)
    return settings


def breaches(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each breach once (a repeated id must carry the same data)."""
    by_id: dict[str, dict[str, Any]] = {}
    for one in events:
        assert by_id.setdefault(one["id"], one) == one, "an id carried different data"
    return [one["data"] for one in by_id.values() if one["type"] == "kefu.sla.breached"]


def is_breach(value: dict[str, Any]) -> bool:
    return value["type"] == "kefu.sla.breached"


async def open_tickets(publisher: Service, tickets: list[str], spread_s: float) -> None:
    for start in range(0, len(tickets), 10):
        now = datetime.now(UTC)
        await publisher.bus.publish(
            *(ev.opened(t, now, priority="P1") for t in tickets[start : start + 10])
        )
        await asyncio.sleep(spread_s * 10 / len(tickets))


async def test_a_killed_sla_fires_every_breach_exactly_once(settings: Settings, tmp_path) -> None:
    sla = start_service("sla", settings, tmp_path)
    publisher = Service.create("publisher", settings)
    publisher.bus.declare_publishes(Topic.TICKET_EVENTS)
    tickets = [f"k{n:04}" for n in range(150)]
    try:
        async with publisher.app(), TopicReader(settings, Topic.SLA_EVENTS) as reader:
            await open_tickets(publisher, tickets, spread_s=3)
            await reader.take(20, is_breach, wait_s=30)
            sla.popen.kill()  # SIGKILL with timers armed, some of them firing
            await asyncio.sleep(2)  # more come due while nobody runs
            sla = start_service("sla", settings, tmp_path)
            ready = datetime.now(UTC)
            await reader.take(len(tickets), is_breach, wait_s=60, repeats=False)
            events = await reader.settle(2.0)
    finally:
        sla.popen.kill()
    every = breaches(events)
    assert sorted(b["ticket_id"] for b in every) == tickets  # none lost, none twice
    overdue = [b for b in every if datetime.fromisoformat(b["due_at"]) < ready]
    assert overdue, "some timers came due while the sla service was down"
    for breach in overdue:
        assert datetime.fromisoformat(breach["breached_at"]) - ready < timedelta(seconds=2)


async def test_two_replicas_never_fire_one_timer_twice(settings: Settings, tmp_path) -> None:
    replicas = [start_service("sla", settings, tmp_path) for _ in range(2)]
    publisher = Service.create("publisher", settings)
    publisher.bus.declare_publishes(Topic.TICKET_EVENTS)
    tickets = [f"r{n:04}" for n in range(200)]
    try:
        async with publisher.app(), TopicReader(settings, Topic.SLA_EVENTS) as reader:
            await asyncio.sleep(3)  # both replicas are in the group
            started = time.monotonic()
            await open_tickets(publisher, tickets, spread_s=2)
            await reader.take(len(tickets), is_breach, wait_s=60)
            events = await reader.settle(2.0)
            assert time.monotonic() - started < TARGET_S + 2 + 10
    finally:
        for replica in replicas:
            replica.popen.kill()
    fired = [e for e in events if is_breach(e)]
    assert Counter(e["data"]["ticket_id"] for e in fired) == Counter(tickets)  # once each
    for breach in breaches(events):
        late = datetime.fromisoformat(breach["breached_at"]) - datetime.fromisoformat(
            breach["due_at"]
        )
        assert late < timedelta(seconds=1)


@pytest.mark.parametrize("instance_id", ["", "sla-0"], ids=["dynamic", "static"])
async def test_a_restarted_sla_fires_before_its_group_forms(
    backend, tmp_path, instance_id: str
) -> None:
    """Contract 9: timers fire whether or not the group has formed. With production's session
    timeout (10 s) a dynamic member that comes back waits for the dead one to time out; a
    static member (the same KEFU_INSTANCE_ID) is handed its partitions back when it rejoins.
    Either way, what came due while it was down fires within 3 s of /readyz."""
    policy = tmp_path / "policy.yaml"
    policy.write_text(yaml.safe_dump(POLICY), encoding="utf-8")
    settings = isolated_settings(backend, config=policy, kafka_session_timeout_ms=10_000)
    await create_topics(settings, TEST_PARTITIONS)
    sla = start_service("sla", settings, tmp_path, instance_id=instance_id)
    publisher = Service.create("publisher", settings)
    publisher.bus.declare_publishes(Topic.TICKET_EVENTS)
    tickets = [f"d{n:03}" for n in range(30)]
    try:
        async with publisher.app(), TopicReader(settings, Topic.SLA_EVENTS) as reader:
            await open_tickets(publisher, ["warm"], spread_s=0)
            await reader.take(1, is_started("warm"), wait_s=60)  # the group has formed
            await open_tickets(publisher, tickets, spread_s=0.3)
            await reader.take(len(tickets) + 1, is_started())
            sla.popen.kill()
            await asyncio.sleep(TARGET_S + 1)  # every breach comes due while nobody runs
            spawned = time.time()
            sla = start_service("sla", settings, tmp_path, instance_id=instance_id)
            ready = time.time()
            await reader.take(len(tickets) + 1, is_breach, repeats=False)
            await open_tickets(publisher, ["late"], spread_s=0)
            await reader.take(1, is_started("late"), wait_s=30)
            consuming = time.time() - spawned
    finally:
        sla.popen.kill()
    first_sent: dict[str, float] = {}  # a replay after the group forms may publish it again
    for record in reader.seen:
        value = json.loads(record.value)
        if is_breach(value) and value["data"]["ticket_id"] != "late":
            first_sent.setdefault(value["id"], record.timestamp / 1000)
    last = max(first_sent.values())
    assigned = first_assignment(sla.log)
    print(
        f"{instance_id or 'dynamic'}: ready {ready - spawned:.1f} s after the restart, every "
        f"breach after {last - spawned:.1f} s, partitions after {assigned - spawned:.1f} s, "
        f"consuming again after {consuming:.1f} s"
    )
    assert consuming < settings.kafka_session_timeout_ms / 1000 + 5
    assert last - ready < 3
    # quickly, or (a start slowed by a busy machine) still before the group gave it partitions
    assert last - spawned < 5 or last < assigned, "the timers waited for the group"


def first_assignment(log: Path) -> float:
    """When a service was first given partitions, by its log's `partitions assigned`."""
    for line in log.read_text(encoding="utf-8").splitlines():
        entry = json.loads(line) if line.startswith("{") else {}
        if entry.get("event") == "partitions assigned" and entry["partitions"]:
            return datetime.fromisoformat(entry["timestamp"]).timestamp()
    raise AssertionError(f"no partitions assigned in {log}")


def is_started(ticket_id: str | None = None) -> Callable[[dict[str, Any]], bool]:
    return lambda value: (
        value["type"] == "kefu.sla.started"
        and (ticket_id is None or value["data"]["ticket_id"] == ticket_id)
    )

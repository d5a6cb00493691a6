"""The sla service through the real broker and store, with targets seconds long: warnings,
breaches on time, met, next-reply cycles, pause and resume, a priority change mid-pause, a
category policy, the escalation chain with raise_tier, and replays that announce nothing twice."""

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml

from kefu.embedded import free_port
from kefu.services.sla.app import build
from kefu.shared.admin import create_topics
from kefu.shared.service import Service
from kefu.shared.settings import Settings
from kefu.shared.store import connect, database
from kefu.shared.topics import Topic
from tests import sla_events as ev
from tests.conftest import TEST_PARTITIONS, isolated_settings
from tests.integration.conftest import served
from tests.kafka import TopicReader

POLICY = {
    "sla": {
        "policies": [
            {"name": "slow", "when": {"category": ["slow"]}, "targets": {"first_response": "6s"}},
            {
                "name": "complaints",
                "when": {"category": ["complaint"]},
                "targets": {"first_response": "1s"},
            },
            {
                "name": "urgent",
                "when": {"priority": ["P1"]},
                "targets": {"first_response": "2s", "next_reply": "2s", "resolution": "20s"},
                "warn_at": 0.5,
                "escalation": [
                    {"at": "breach", "notify": ["supervisor"]},
                    {"at": "breach+1s", "notify": ["manager"], "raise_tier": True},
                ],
            },
            {
                "name": "normal",
                "when": {"priority": ["P2", "P3"]},
                "targets": {"first_response": "60s", "resolution": "3s"},
                "pause_on": ["pending"],
            },
        ]
    }
}


@dataclass
class RunningSla:
    settings: Settings
    reader: TopicReader
    publisher: Service

    async def send(self, *events: Any) -> None:
        await self.publisher.bus.publish(*events)

    async def announced(self, count: int, ticket: str, kind: str, wait_s: float = 15) -> list[Any]:
        """The first `count` sla events of a kind about a ticket, with when they arrived."""

        def matches(value: dict[str, Any]) -> bool:
            return value["subject"] == ticket and value["type"] == f"kefu.sla.{kind}"

        found = await self.reader.take(count, matches, wait_s=wait_s)
        assert len(found) == count, f"wanted {count} {kind} for {ticket}: {found}"
        return [value["data"] for value in found]

    async def everything(self, ticket: str, settle_s: float = 1.0) -> list[dict[str, Any]]:
        return [v for v in await self.reader.settle(settle_s) if v["subject"] == ticket]


async def sla_settings(backend, tmp_path) -> Settings:
    policy = tmp_path / "policy.yaml"
    policy.write_text(yaml.safe_dump(POLICY), encoding="utf-8")
    settings = isolated_settings(backend, config=policy)
    await create_topics(settings, TEST_PARTITIONS)
    return settings


@asynccontextmanager
async def running_sla(settings: Settings) -> AsyncIterator[RunningSla]:
    publisher = Service.create("publisher", settings)
    publisher.bus.declare_publishes(Topic.TICKET_EVENTS, Topic.ROUTING_EVENTS)
    async with (
        served(build(settings), free_port()),
        publisher.app(),
        TopicReader(settings, Topic.SLA_EVENTS) as reader,
    ):
        yield RunningSla(settings, reader, publisher)


@pytest.fixture
async def sla(backend, tmp_path) -> AsyncIterator[RunningSla]:
    async with running_sla(await sla_settings(backend, tmp_path)) as running:
        yield running


def now() -> datetime:
    return datetime.now(UTC)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def ticket_id() -> str:
    return uuid.uuid4().hex[:10]


async def test_warning_breach_on_time_and_the_escalation_chain(sla: RunningSla) -> None:
    t, opened_at = ticket_id(), now()
    await sla.send(ev.opened(t, opened_at, priority="P1"), ev.assigned(t, "alice", opened_at))
    [started] = await sla.announced(1, t, "started")
    due = at(started["targets"][0]["due_at"])
    assert started["targets"][0]["metric"] == "first_response"
    assert due - opened_at < timedelta(seconds=2.001)
    [warning] = await sla.announced(1, t, "warning")
    assert warning["remaining_s"] == 1.0
    [breach] = await sla.announced(1, t, "breached")
    assert at(breach["breached_at"]) - due < timedelta(seconds=1)  # within 1 s of due
    assert breach["agent_id"] == "alice" and breach["priority"] == "P1"
    steps = await sla.announced(2, t, "escalated")
    assert [(s["level"], s["notify"], s["raise_tier"]) for s in steps] == [
        (1, ["supervisor"], False),
        (2, ["manager"], True),
    ]
    assert at(steps[1]["at"]) - due >= timedelta(seconds=1)


async def test_met_in_time_and_nothing_after(sla: RunningSla) -> None:
    t, opened_at = ticket_id(), now()
    await sla.send(ev.opened(t, opened_at, priority="P1"))
    await sla.announced(1, t, "started")
    await sla.send(ev.replied(t, now()))
    [met] = await sla.announced(1, t, "met")
    assert met["metric"] == "first_response"
    types = [v["type"] for v in await sla.everything(t, settle_s=2.5)]
    assert "kefu.sla.breached" not in types


async def test_a_next_reply_cycle_breaches_when_unanswered(sla: RunningSla) -> None:
    t = ticket_id()
    await sla.send(ev.opened(t, now(), priority="P1"), ev.replied(t, now()))
    await sla.send(ev.customer_wrote(t, now()))
    started = await sla.announced(2, t, "started")
    assert [target["metric"] for target in started[1]["targets"]] == ["next_reply", "resolution"]
    [breach] = await sla.announced(1, t, "breached", wait_s=10)
    assert breach["metric"] == "next_reply"


async def test_pending_pauses_resolution_and_resuming_moves_it_exactly(sla: RunningSla) -> None:
    t, opened_at = ticket_id(), now()
    await sla.send(ev.opened(t, opened_at), ev.replied(t, opened_at))
    paused_at = opened_at + timedelta(seconds=1)
    resumed_at = paused_at + timedelta(seconds=3)
    await sla.send(ev.status(t, "new", "pending", paused_at))
    await sla.send(ev.status(t, "pending", "open", resumed_at))
    started = await sla.announced(2, t, "started")
    resolution = next(x for x in started[1]["targets"] if x["metric"] == "resolution")
    assert at(resolution["due_at"]) == (opened_at + timedelta(seconds=6)).replace(
        microsecond=opened_at.microsecond // 1000 * 1000
    )
    [breach] = await sla.announced(1, t, "breached", wait_s=15)
    assert breach["metric"] == "resolution"
    assert at(breach["breached_at"]) >= at(resolution["due_at"])


async def test_a_priority_change_mid_pause_keeps_the_time_used(sla: RunningSla) -> None:
    t, opened_at = ticket_id(), now()
    await sla.send(ev.opened(t, opened_at), ev.replied(t, opened_at))
    await sla.send(ev.status(t, "new", "pending", opened_at + timedelta(seconds=1)))
    await sla.send(ev.priority(t, "P3", "P1", opened_at + timedelta(seconds=2)))
    await sla.send(ev.status(t, "pending", "open", opened_at + timedelta(seconds=4)))
    started = await sla.announced(2, t, "started")
    assert started[1]["policy"] == "urgent"
    [resolution] = [x for x in started[1]["targets"] if x["metric"] == "resolution"]
    used, resumed = timedelta(seconds=1), opened_at + timedelta(seconds=4)
    expected = resumed + timedelta(seconds=20) - used
    assert abs(at(resolution["due_at"]) - expected) < timedelta(milliseconds=2)


async def test_a_complaint_has_its_own_policy(sla: RunningSla) -> None:
    t = ticket_id()
    await sla.send(ev.opened(t, now(), category=["complaint", "billing", "refund"]))
    [breach] = await sla.announced(1, t, "breached")
    assert breach["policy"] == "complaints"


async def test_a_replay_announces_nothing_twice(sla: RunningSla) -> None:
    t, opened_at = ticket_id(), now()
    events = [ev.opened(t, opened_at, priority="P1"), ev.assigned(t, "bob", opened_at)]
    await sla.send(*events)
    await sla.announced(2, t, "escalated")
    await sla.send(*events)  # redelivered, after every timer fired
    everything = await sla.everything(t, settle_s=2.0)
    ids = [v["id"] for v in everything]
    assert len(ids) == len(set(ids)) == 5  # started, warning, breached, two escalations


async def test_tickets_an_older_sla_stored_get_their_timers_when_sla_starts(
    backend, tmp_path
) -> None:
    """Until 0.2 a ticket's timer was a document of `sla_timers`; now it is held in the
    ticket's own document. A timer stored the older way moves into its ticket when sla
    starts, and the ticket is breached all the same."""
    settings = await sla_settings(backend, tmp_path)
    t, opened_at = ticket_id(), now()
    async with running_sla(settings) as sla:
        await sla.send(ev.opened(t, opened_at, category=["slow", "billing", "refund"]))
        [started] = await sla.announced(1, t, "started")
    client = connect(settings)
    db = database(client, settings)
    try:
        found = await db.sla_tickets.find_one_and_update(
            {"_id": t}, {"$unset": {"due": "", "at": "", "claim": ""}}
        )
        await db.sla_timers.insert_one({"_id": t, "due": found["due"], "at": found["at"], "gen": 1})
        async with running_sla(settings) as sla:
            [breach] = await sla.announced(1, t, "breached")
        assert at(breach["breached_at"]) >= at(started["targets"][0]["due_at"])
        assert await db.sla_timers.find_one({}) is None  # moved, not left to come back
    finally:
        await client.close()

"""`kefu bench`, the sla part: how late durable timers fire while many are armed.

For each size N, the sla service holds N armed timers: tickets whose SLA (the bench policy's
`bench-timers`, first response 2 h) is far off, and up to FIRED of them due one after another,
FIRE_RATE a second, a few seconds after they were armed. The tickets are `kefu.ticket.opened`
events written to ticket.events as intake writes them (their `opened_at` set back so the due
times fall in the window), so every service reads them. Lateness is measured twice: in the
sla process (`breached_at` − `due_at`) and as seen by a consumer of sla.events (arrival −
`due_at`). The sla process's memory is read from its /metrics after each size.
"""

import json
import statistics
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaConsumer
from pymongo import AsyncMongoClient

from kefu.shared.bus import Bus, make_broker
from kefu.shared.events import new_event
from kefu.shared.events.ticket import Customer, TicketOpened
from kefu.shared.settings import Settings
from kefu.shared.topics import Topic, topic_name

CATEGORY = "benchtimers"
TARGET = timedelta(hours=2)
FIRED = 5000
FIRE_RATE = 250.0
ARM_PACE = 500.0  # tickets a second every service reads, when nothing measured it yet
POLICY = {
    "name": "bench-timers",
    "when": {"category": [CATEGORY]},
    "targets": {"first_response": "2h"},
    "warn_at": None,
}


@dataclass
class Phase:
    armed: int
    settled: bool  # every service had read every ticket before the first was due
    fire_lateness_s: list[float]
    seen_lateness_s: list[float]


def opened(ticket_id: str, opened_at: datetime) -> Any:
    data = TicketOpened(
        ticket_id=ticket_id,
        channel="email",
        customer=Customer(address=f"{ticket_id}@bench.example"),
        priority="P3",
        category=[CATEGORY, "load", "timer"],
        skills=["general"],
        locale="en",
        first_message_id=f"{ticket_id}-m",
        opened_at=opened_at,
    )
    return new_event(
        data, id=f"bench:{ticket_id}:opened", source="kefu/bench", correlationid=ticket_id
    )


async def armed(settings: Settings) -> int:
    client: AsyncMongoClient = AsyncMongoClient(settings.mongodb_url.get_secret_value())
    try:
        armed = {"at": {"$gte": 0}}  # the timers held by sla's tickets (indexed)
        found = client[settings.mongodb_db]["sla_tickets"].find(armed, {"_id": 1})
        return len([document async for document in found])
    finally:
        await client.close()


async def publish(bus: Bus, events: list[Any]) -> None:
    for start in range(0, len(events), 1000):
        await bus.publish(*events[start : start + 1000])


async def phase(settings: Settings, bus: Bus, size: int, caught_up: Any) -> Phase:
    """Arm up to `size` timers, some of them due once every service has read them (the lead
    is what arming and reading the far ones took, at that pace, and more); time their firing."""
    run, firing = uuid.uuid4().hex[:6], min(FIRED, size)
    far = max(0, size - firing - await armed(settings))
    started = time.monotonic()
    await publish(bus, [opened(f"far-{run}-{n}", datetime.now(UTC)) for n in range(far)])
    took = time.monotonic() - started + await caught_up(settings)  # caught_up: how long
    pace = far / max(took, 1.0) if far else ARM_PACE
    lead_s = 10 + took + 2 * firing / pace
    reader = AIOKafkaConsumer(
        topic_name(settings.topic_prefix, Topic.SLA_EVENTS),
        bootstrap_servers=settings.kafka_bootstrap,
        auto_offset_reset="latest",
        fetch_max_wait_ms=settings.kafka_fetch_max_wait_ms,  # what the services use
    )
    await reader.start()
    try:
        while not reader.assignment():
            await reader.getmany(timeout_ms=100)
        first_due = datetime.now(UTC) + timedelta(seconds=lead_s)
        step = timedelta(seconds=1 / FIRE_RATE)
        soon = [opened(f"soon-{run}-{n}", first_due + n * step - TARGET) for n in range(firing)]
        await publish(bus, soon)
        await caught_up(settings)
        settled = datetime.now(UTC) < first_due
        count = await armed(settings)
        fired, seen = await _breaches(reader, run, firing, lead_s + firing / FIRE_RATE + 60)
    finally:
        await reader.stop()
    return Phase(count, settled, fired, seen)


async def _breaches(
    reader: AIOKafkaConsumer, run: str, count: int, within_s: float
) -> tuple[list[float], list[float]]:
    fired: dict[str, float] = {}
    seen: dict[str, float] = {}
    deadline = time.monotonic() + within_s
    while len(fired) < count and time.monotonic() < deadline:
        batches = await reader.getmany(timeout_ms=100)
        arrived = datetime.now(UTC)
        for records in batches.values():
            for record in records:
                event = json.loads(record.value)
                data = event["data"]
                if event["type"] != "kefu.sla.breached" or not data["ticket_id"].startswith(
                    f"soon-{run}"
                ):
                    continue
                due = datetime.fromisoformat(data["due_at"])
                fired[event["id"]] = (
                    datetime.fromisoformat(data["breached_at"]) - due
                ).total_seconds()
                seen[event["id"]] = (arrived - due).total_seconds()
    return list(fired.values()), list(seen.values())


def lateness(values: list[float]) -> dict[str, float | None]:
    if len(values) < 2:
        return {"p50": None, "p99": None, "max": None}
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {"p50": _ms(cuts[49]), "p99": _ms(cuts[98]), "max": _ms(max(values))}


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


async def run_timers(
    settings: Settings, sizes: list[int], caught_up: Any, sla_memory: Any
) -> list[dict[str, Any]]:
    broker = make_broker(settings, "bench")
    bus = Bus(broker, settings, "bench")
    bus.declare_publishes(Topic.TICKET_EVENTS)
    await bus.start()
    results = []
    try:
        for size in sizes:
            measured = await phase(settings, bus, size, caught_up)
            results.append(
                {
                    "armed_timers": measured.armed,
                    "armed_before_first_due": measured.settled,
                    "fired_in_window": len(measured.fire_lateness_s),
                    "fired_per_s": FIRE_RATE,
                    "fire_lateness_ms": lateness(measured.fire_lateness_s),
                    "observed_lateness_ms": lateness(measured.seen_lateness_s),
                    "sla_rss_mb": sla_memory(),
                }
            )
    finally:
        await bus.stop()
    return results

"""Graceful hand-over, for every service: SIGTERM in the middle of a stream, the process
finishes the batch in flight, commits and exits 0 within the grace period; the next process
takes over from the committed offsets; every input's outcome is there exactly once (an id
repeated carries the same data) and the group has committed everything."""

import asyncio
import subprocess
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiosmtpd.controller import Controller

from kefu.embedded import free_port
from kefu.shared.admin import create_topics
from kefu.shared.service import Service
from kefu.shared.settings import Settings
from kefu.shared.topics import Topic, topic_name
from tests import sla_events as ev
from tests.conftest import TEST_PARTITIONS, isolated_settings
from tests.e2e.processes import RunningService, start_service
from tests.factories import message_body
from tests.integration.notifying import Mailbox
from tests.kafka import TopicReader, produce

pytestmark = pytest.mark.e2e
INPUTS = 120
GRACE_S = 15


def opened(number: int) -> list[Any]:
    ticket = f"h{number:04}"
    return [ev.opened(ticket, datetime.now(UTC), customer=ev.Customer(address=f"{ticket}@x.org"))]


def solved(number: int) -> list[Any]:
    [opening] = opened(number)
    return [opening, ev.status(opening.data.ticket_id, "open", "solved", opening.time)]


@dataclass(frozen=True)
class Scenario:
    reads: Topic  # where the inputs go
    writes: Topic  # where each input's outcome shows
    outcome: str  # the event type of each input's outcome
    events: Callable[[int], list[Any]] = solved  # the input numbered n, as ticket events
    per_input: int = 1  # how many different outcome events an input has
    subject: Callable[[dict[str, Any]], str] = lambda value: value["subject"]


SCENARIOS = {
    "intake": Scenario(Topic.CHANNEL_INBOUND, Topic.TICKET_EVENTS, "kefu.ticket.opened",
                       subject=lambda value: value["correlationid"]),
    "router": Scenario(Topic.TICKET_EVENTS, Topic.ROUTING_EVENTS, "kefu.ticket.queued",
                       events=opened),  # nobody online: each ticket waits
    "sla": Scenario(Topic.TICKET_EVENTS, Topic.SLA_EVENTS, "kefu.sla.started", events=opened),
    "notify": Scenario(Topic.TICKET_EVENTS, Topic.NOTIFY_DELIVERIES, "kefu.notify.sent",
                       per_input=2),  # acknowledgement and solved
    "survey": Scenario(Topic.TICKET_EVENTS, Topic.SURVEY_EVENTS, "kefu.survey.issued"),
}  # fmt: skip
POLICY = {"sla": {"policies": [{"name": "p", "targets": {"first_response": "1h"}}]}}


async def feed(service: str, settings: Settings, publisher: Service) -> None:
    """The inputs, spread over a few seconds so that the SIGTERM lands mid-stream."""
    events = SCENARIOS[service].events if service in SCENARIOS else solved
    for start in range(0, INPUTS, 10):
        numbers = range(start, start + 10)
        if service == "intake":
            bodies = [message_body("email", f"<h{n}@mail>", f"h{n}@example.com") for n in numbers]
            for body in bodies:
                await produce(settings, Topic.CHANNEL_INBOUND, body, key=body["from"]["address"])
        else:
            await publisher.bus.publish(*(event for n in numbers for event in events(n)))
        await asyncio.sleep(0.15)


def each_once(values: list[dict[str, Any]], scenario: Scenario) -> Counter[str]:
    """How many different outcome events each input got (an id repeated must carry the
    same data)."""
    by_id: dict[str, dict[str, Any]] = {}
    for value in values:
        assert by_id.setdefault(value["id"], value) == value, "an id carried different data"
    return Counter(scenario.subject(v) for v in by_id.values() if v["type"] == scenario.outcome)


async def committed_everything(settings: Settings, service: str, topic: Topic) -> bool:
    """Whether the service's group has committed every record of the topic (commits follow
    the batch, so a moment is allowed for the last one)."""
    for _ in range(50):
        if await _committed_all(settings, service, topic):
            return True
        await asyncio.sleep(0.1)
    return False


async def _committed_all(settings: Settings, service: str, topic: Topic) -> bool:
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=None)
    await consumer.start()
    try:
        name = topic_name(settings.topic_prefix, topic)
        partitions = [TopicPartition(name, p) for p in range(TEST_PARTITIONS)]
        ends = await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()
    group = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap, group_id=f"{settings.topic_prefix}{service}"
    )
    await group.start()
    try:
        committed = [await group.committed(tp) or 0 for tp in partitions]
    finally:
        await group.stop()
    return all(done >= ends[tp] for done, tp in zip(committed, partitions, strict=True))


@contextmanager
def running(service: str, settings: Settings, log_dir: Path) -> Iterator[RunningService]:
    """`kefu run <service>`, stopped at the end if the test has not stopped it."""
    process = start_service(service, settings, log_dir)
    try:
        yield process
    finally:
        if process.popen.poll() is None:
            process.popen.terminate()
            try:
                process.popen.wait(GRACE_S)
            except subprocess.TimeoutExpired:
                process.popen.kill()


async def handed_over(first: RunningService, settings: Settings, log_dir: Path) -> Any:
    """SIGTERM to `first`, which must exit 0 within the grace period; then its successor."""
    first.popen.terminate()
    code = await asyncio.to_thread(first.popen.wait, GRACE_S)
    assert code == 0, first.log.read_text()[-3000:]
    return running(first.name, settings, log_dir)


@pytest.mark.parametrize("service", list(SCENARIOS))
async def test_sigterm_mid_stream_hands_over_cleanly(service: str, backend, tmp_path) -> None:
    scenario = SCENARIOS[service]
    mailbox, smtp = Mailbox(), None
    if service == "notify":
        smtp = Controller(mailbox, hostname="127.0.0.1", port=free_port())
        smtp.start()
    policy = tmp_path / "policy.yaml"
    policy.write_text(yaml.safe_dump(POLICY), encoding="utf-8")
    settings = isolated_settings(
        backend,
        config=policy,
        smtp_port=smtp.port if smtp else 1025,
    )
    await create_topics(settings, TEST_PARTITIONS)
    publisher = Service.create("publisher", settings)
    publisher.bus.declare_publishes(Topic.TICKET_EVENTS)
    try:
        with running(service, settings, tmp_path) as first:
            async with publisher.app(), TopicReader(settings, scenario.writes) as reader:
                feeding = asyncio.create_task(feed(service, settings, publisher))
                await reader.take(10, lambda v: v["type"] == scenario.outcome, wait_s=60)
                with await handed_over(first, settings, tmp_path):
                    await feeding
                    wanted = INPUTS * scenario.per_input
                    await reader.take(
                        wanted, lambda v: v["type"] == scenario.outcome, wait_s=90, repeats=False
                    )
                    outcomes = each_once(await reader.settle(2.0), scenario)
                    assert len(outcomes) == INPUTS
                    assert set(outcomes.values()) == {scenario.per_input}
                    assert await committed_everything(settings, service, scenario.reads)
    finally:
        if smtp:
            smtp.stop()


async def test_analytics_hands_over_its_projections_cleanly(backend, tmp_path) -> None:
    """Analytics writes projections, not events: each ticket's projection holds each of its
    events once."""
    settings = isolated_settings(backend)
    await create_topics(settings, TEST_PARTITIONS)
    publisher = Service.create("publisher", settings)
    publisher.bus.declare_publishes(Topic.TICKET_EVENTS)
    tickets = publisher.db["analytics_tickets"]
    with running("analytics", settings, tmp_path) as first:
        async with publisher.app():
            feeding = asyncio.create_task(feed("analytics", settings, publisher))
            while await tickets.count_documents({}) < 10:
                await asyncio.sleep(0.05)
            with await handed_over(first, settings, tmp_path):
                await feeding
                done = {"state.status": "solved"}
                for _ in range(900):
                    if await tickets.count_documents(done) == INPUTS:
                        break
                    await asyncio.sleep(0.1)
                found = [d["state"]["timeline"] async for d in tickets.find({})]
                assert len(found) == INPUTS
                assert {len(timeline) for timeline in found} == {2}  # opened, solved: once
                assert await committed_everything(settings, "analytics", Topic.TICKET_EVENTS)

"""Contract 4 for the survey service as processes: a SIGKILL in the middle of issuing and
expiring surveys loses none and repeats none (a repeated id carries the same data)."""

import asyncio
from collections import Counter
from datetime import UTC, datetime
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
TICKETS = 120


@pytest.fixture
async def settings(backend, tmp_path) -> Settings:
    policy = tmp_path / "policy.yaml"
    policy.write_text(yaml.safe_dump({"survey": {"delay": "2s", "expires": "5s"}}), "utf-8")
    settings = isolated_settings(backend, config=policy)
    await create_topics(settings, TEST_PARTITIONS)
    return settings


def once_each(events: list[dict[str, Any]], kind: str) -> Counter[str]:
    """How many different events of a type each ticket got (a repeated id is one event, and
    must carry the same data)."""
    by_id: dict[str, dict[str, Any]] = {}
    for one in events:
        assert by_id.setdefault(one["id"], one) == one, "an id carried different data"
    return Counter(one["subject"] for one in by_id.values() if one["type"] == kind)


async def solve_tickets(publisher: Service, tickets: list[str], spread_s: float) -> None:
    for start in range(0, len(tickets), 10):
        now = datetime.now(UTC)
        batch = tickets[start : start + 10]
        await publisher.bus.publish(*(ev.opened(t, now) for t in batch))
        await publisher.bus.publish(*(ev.status(t, "open", "solved", now) for t in batch))
        await asyncio.sleep(spread_s * 10 / len(tickets))


async def test_a_killed_survey_issues_and_expires_each_survey_once(
    settings: Settings, tmp_path
) -> None:
    survey = start_service("survey", settings, tmp_path)
    publisher = Service.create("publisher", settings)
    publisher.bus.declare_publishes(Topic.TICKET_EVENTS)
    tickets = [f"s{n:04}" for n in range(TICKETS)]
    topics = (Topic.SURVEY_EVENTS, Topic.NOTIFY_REQUESTS)
    try:
        async with publisher.app(), TopicReader(settings, *topics) as reader:
            await solve_tickets(publisher, tickets, spread_s=3)
            await reader.take(20, lambda v: v["type"] == "kefu.survey.issued", wait_s=30)
            survey.popen.kill()  # timers armed, some of them firing
            await asyncio.sleep(1)
            survey = start_service("survey", settings, tmp_path)
            await reader.take(
                TICKETS, lambda v: v["type"] == "kefu.survey.expired", wait_s=60, repeats=False
            )
            everything = await reader.settle(2.0)
        for kind in ("kefu.survey.issued", "kefu.notify.requested", "kefu.survey.expired"):
            assert once_each(everything, kind) == dict.fromkeys(tickets, 1), kind
    finally:
        survey.popen.terminate()
        survey.popen.wait(15)

"""`kefu simulate` (contract 5) as users run it, against intake, router and survey processes
with the example policy: customers write, kefu opens and assigns their tickets, the simulated
agents reply and solve each one, and customers answer their surveys on the survey's page."""

import asyncio
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from kefu.embedded import free_port
from kefu.shared.admin import create_topics
from kefu.shared.settings import Settings
from kefu.shared.topics import Topic
from tests.conftest import TEST_PARTITIONS, isolated_settings
from tests.e2e.processes import start_service
from tests.kafka import TopicReader

pytestmark = pytest.mark.e2e
EXAMPLE_POLICY = Path(__file__).parents[2] / "deploy" / "policy.yaml"
MESSAGES = 60


@pytest.fixture
async def settings(backend) -> Settings:
    survey_port = free_port()
    settings = isolated_settings(
        backend, config=EXAMPLE_POLICY, public_url=f"http://127.0.0.1:{survey_port}"
    )
    await create_topics(settings, TEST_PARTITIONS)
    return settings


def simulate(settings: Settings, *options: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "KEFU_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "KEFU_TOPIC_PREFIX": settings.topic_prefix,
    }
    command = [sys.executable, "-m", "kefu.cli", "simulate", *options]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)


async def test_simulated_customers_and_agents_go_through_the_whole_ticket_life(
    settings: Settings, tmp_path
) -> None:
    services = [start_service(name, settings, tmp_path) for name in ("intake", "router")]
    port = int(settings.public_url.rsplit(":", 1)[1])
    services.append(start_service("survey", settings, tmp_path, port=port))
    topics = (Topic.TICKET_EVENTS, Topic.ROUTING_EVENTS, Topic.SURVEY_EVENTS)
    options = ["--rate", "20", "--count", str(MESSAGES), "--agents", "4", "--capacity", "30"]
    # the last tickets' reply, solve, survey and answer, on a busy machine: more than 5 s
    options += ["--reply", "0.3", "--solve", "0.3", "--surveys", "1", "--drain", "12"]
    try:
        async with TopicReader(settings, *topics) as reader:
            done = await asyncio.to_thread(simulate, settings, *options, "--seed", "11")
            events = await reader.settle(2.0)
    finally:
        for service in services:
            service.popen.terminate()
            service.popen.wait(15)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert "sent 60  assigned" in done.stderr  # the progress line
    kinds = Counter(event["type"] for event in events)
    opened = kinds["kefu.ticket.opened"]
    assert result["sent"] == MESSAGES == kinds["kefu.ticket.message_received"]
    assert MESSAGES * 0.7 <= opened < MESSAGES  # the rest follow up
    assert result["assigned"] == kinds["kefu.ticket.assigned"] >= opened
    assert result["replied"] == result["solved"] == result["assigned"]
    assert result["answered"] == result["surveys"] == kinds["kefu.survey.responded"] > 0
    assert result["not_answered"] == 0
    assert set(result["inbound_to_assigned_ms"]) == {"p50", "p90", "p99", "max"}

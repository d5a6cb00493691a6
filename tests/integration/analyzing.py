"""A running analytics service on its own topics and database, with a publisher for every
topic it reads, a reader of what it writes and an HTTP client; plus a seeded set of tickets
whose KPIs are worked out by hand in the tests."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import yaml

from kefu.embedded import free_port
from kefu.services.analytics.app import READS, build
from kefu.shared.admin import create_topics
from kefu.shared.events.agent import AgentStatusChanged
from kefu.shared.events.survey import SurveyIssued, SurveyResponded
from kefu.shared.service import Service
from kefu.shared.settings import Settings
from kefu.shared.topics import Topic
from tests import sla_events as ev
from tests.conftest import TEST_PARTITIONS, Backend, isolated_settings
from tests.integration.conftest import served
from tests.kafka import TopicReader

TOKENS = {role: f"test-{role}-token-0123" for role in ("agent", "supervisor", "admin")}


def bearer(role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[role]}"}


@dataclass
class RunningAnalytics:
    settings: Settings
    publisher: Service
    reader: TopicReader
    http: httpx.AsyncClient

    async def send(self, *events: Any) -> None:
        await self.publisher.bus.publish(*events)

    async def get(self, path: str, role: str = "admin", **params: Any) -> httpx.Response:
        return await self.http.get(path, params=params, headers=bearer(role))

    async def ticket(self, ticket_id: str, until: Any = lambda t: True, wait_s: float = 15) -> Any:
        """The ticket's projection from the API once `until` holds."""
        for _ in range(int(wait_s / 0.1)):
            found = await self.get(f"/v1/tickets/{ticket_id}")
            if found.status_code == 200 and until(found.json()):
                return found.json()
            await asyncio.sleep(0.1)
        raise AssertionError(f"ticket {ticket_id} never got there: {found.text}")


@asynccontextmanager
async def running_analytics(
    backend: Backend, tmp_path: Any, **policy: Any
) -> AsyncIterator[RunningAnalytics]:
    path = tmp_path / f"policy-{uuid.uuid4().hex[:6]}.yaml"
    path.write_text(yaml.safe_dump(policy), encoding="utf-8")
    tokens = ",".join(f"{token}:{role}" for role, token in TOKENS.items())
    settings = isolated_settings(backend, config=path, api_tokens=tokens)
    await create_topics(settings, TEST_PARTITIONS)
    publisher = Service.create("publisher", settings)
    publisher.bus.declare_publishes(*READS)
    port = free_port()
    async with (
        served(build(settings), port),
        publisher.app(),
        TopicReader(settings, Topic.ANALYTICS_KPIS, Topic.OPS_EVENTS) as reader,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http,
    ):
        yield RunningAnalytics(settings, publisher, reader, http)


def seeded(prefix: str, t0: datetime) -> list[Any]:
    """Three tickets (the tests work their KPIs out by hand):
    - A (email): opened t0, assigned to a1, replied +10m, solved +30m by a1: one touch; CSAT 5.
    - B (sms, P1): opened +5m, replied +25m, customer +30m, replied +40m, solved +60m,
      reopened +70m, solved +90m; CSAT 2.
    - C (chat): opened +10m, never answered (the backlog).
    """
    a, b, c = (f"{prefix}{name}" for name in "ABC")
    at = lambda minutes: t0 + timedelta(minutes=minutes)  # noqa: E731
    sms = {"channel": "sms", "customer": ev.Customer(address="+8613800138000")}
    return [
        ev.opened(a, at(0)),
        ev.assigned(a, "a1", at(1)),
        ev.replied(a, at(10)),
        ev.status(a, "open", "solved", at(30)),
        ev.opened(b, at(5), priority="P1", **sms),
        ev.assigned(b, "a2", at(6)),
        ev.replied(b, at(25)),
        ev.customer_wrote(b, at(30)),
        ev.replied(b, at(40)),
        ev.status(b, "open", "solved", at(60)),
        ev.reopened(b, at(70)),
        ev.status(b, "open", "solved", at(90)),
        ev.opened(c, at(10), channel="chat", customer=ev.Customer(address="visitor-1")),
        *(event for ticket, score in ((a, 5), (b, 2)) for event in survey(ticket, score, at(95))),
        ev.event(
            AgentStatusChanged(
                agent_id="a1", status="online", skills=["general"], capacity=3, tier=1, at=at(0)
            ),
            at(0),
        ),
    ]


def survey(ticket: str, score: int, at: datetime) -> Any:
    issued = SurveyIssued(
        survey_id=f"{ticket}-1", ticket_id=ticket, kind="csat", url="u", expires_at=at
    )
    answered = SurveyResponded(
        survey_id=f"{ticket}-1",
        ticket_id=ticket,
        kind="csat",
        score=score,
        comment=None,
        agent_id=None,
        at=at + timedelta(minutes=1),
    )
    return ev.event(issued, at), ev.event(answered, at + timedelta(minutes=1))

"""A running survey service (one replica or two, on one store and one broker), with a
publisher for the ticket and routing events it reads and a reader of what it writes."""

import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import yaml

from kefu.embedded import free_port
from kefu.services.survey.app import build
from kefu.services.survey.tokens import LinkSubject, SurveyLinks
from kefu.shared.admin import create_topics
from kefu.shared.service import Service
from kefu.shared.settings import Settings
from kefu.shared.topics import Topic
from tests.conftest import TEST_PARTITIONS, Backend, isolated_settings
from tests.integration.conftest import served
from tests.kafka import TopicReader

SECRET = "integration-survey-secret-0123456789"


@dataclass
class RunningSurvey:
    settings: Settings
    reader: TopicReader
    publisher: Service
    urls: list[str]  # one per replica
    http: httpx.AsyncClient

    async def send(self, *events: Any) -> None:
        await self.publisher.bus.publish(*events)

    async def said(self, count: int, ticket: str, kind: str, wait_s: float = 15) -> list[Any]:
        """The first `count` events of a type (`survey.issued`, `notify.requested`) about a
        ticket, as JSON."""

        def matches(value: dict[str, Any]) -> bool:
            return value["subject"] == ticket and value["type"] == f"kefu.{kind}"

        found = await self.reader.take(count, matches, wait_s=wait_s)
        assert len(found) == count, f"wanted {count} {kind} for {ticket}: {found}"
        return found

    async def everything(self, ticket: str, settle_s: float = 1.0) -> list[dict[str, Any]]:
        return [v for v in await self.reader.settle(settle_s) if v["subject"] == ticket]

    async def issued_url(self, ticket: str) -> str:
        [issued] = await self.said(1, ticket, "survey.issued")
        return issued["data"]["url"]

    def forged(self, ticket: str, survey_id: str, expires_at: datetime) -> str:
        """A correctly signed link for any survey (as if the service had made it)."""
        links = SurveyLinks(SECRET, self.urls[0])
        return links.url(LinkSubject(ticket, survey_id, expires_at))


@asynccontextmanager
async def running_survey(
    backend: Backend, tmp_path: Any, replicas: int = 1, **survey_policy: Any
) -> AsyncIterator[RunningSurvey]:
    policy = tmp_path / f"policy-{uuid.uuid4().hex[:6]}.yaml"
    policy.write_text(yaml.safe_dump({"survey": survey_policy}), encoding="utf-8")
    ports = [free_port() for _ in range(replicas)]
    settings = isolated_settings(
        backend, config=policy, survey_secret=SECRET, public_url=f"http://127.0.0.1:{ports[0]}"
    )
    await create_topics(settings, TEST_PARTITIONS)
    publisher = Service.create("publisher", settings)
    publisher.bus.declare_publishes(Topic.TICKET_EVENTS, Topic.ROUTING_EVENTS)
    async with AsyncExitStack() as stack:
        for port in ports:
            await stack.enter_async_context(served(build(settings), port))
        await stack.enter_async_context(publisher.app())
        reader = await stack.enter_async_context(
            TopicReader(settings, Topic.SURVEY_EVENTS, Topic.NOTIFY_REQUESTS)
        )
        http = await stack.enter_async_context(httpx.AsyncClient(timeout=10))
        urls = [f"http://127.0.0.1:{port}" for port in ports]
        yield RunningSurvey(settings, reader, publisher, urls, http)

"""Issue 22: two replicas of every service under a steady mixed load (customers writing in,
agents replying and solving, customers answering surveys). One replica of each service is
SIGKILLed in turn and restarted; then the store and the broker each stop for 10 s (SIGSTOP)
and come back. Nothing is lost and nothing is doubled, and every replica is ready again
within 10 s of the servers' return."""

import asyncio
import contextlib
import os
import signal
import time
import urllib.request
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import yaml
from aiosmtpd.controller import Controller
from pymongo import AsyncMongoClient

from kefu.embedded import free_port
from kefu.services.notify.providers import SMTP_CONNECTIONS
from kefu.shared.admin import create_topics
from kefu.shared.service import SERVICES
from kefu.shared.settings import Settings
from kefu.shared.topics import Topic
from tests.conftest import TEST_PARTITIONS, Backend, isolated_settings
from tests.e2e.load import CAPACITY, Load
from tests.e2e.processes import RunningService, start_service
from tests.integration.notifying import Mailbox, wait_for
from tests.kafka import TopicReader

pytestmark = pytest.mark.e2e
TICKETS = 120
PER_SECOND = 2.5
TOKEN = "kill-test-token-0123456789"
SLACK = timedelta(seconds=1)  # a reply's time is intake's clock, a due time sla's
CATCH_UP = timedelta(seconds=10)  # after a fault ends, until sla has read the backlog
POLICY = {
    "classification": {
        "rules": [{"keywords": ["outage"], "set": {"priority": "P1", "skills": ["tech"]}}]
    },
    "sla": {
        "policies": [
            {"name": "p1", "when": {"priority": ["P1"]}, "targets": {"first_response": "3s"}},
            {"name": "standard", "targets": {"first_response": "30s", "resolution": "10m"}},
        ]
    },
    "survey": {"delay": "0s"},
    "notify": {"customer": ["opened", "agent_reply", "solved"]},
}
READ = (
    Topic.TICKET_EVENTS,
    Topic.ROUTING_EVENTS,
    Topic.SLA_EVENTS,
    Topic.SURVEY_EVENTS,
    Topic.AGENT_EVENTS,
    Topic.DLQ,
)


class Replicas:
    """Two `kefu run` processes of every service."""

    def __init__(self, settings: Settings, log_dir) -> None:
        self.settings, self.log_dir = settings, log_dir
        self.running: dict[str, list[RunningService]] = {}

    async def start(self) -> None:
        """Every replica, each started one kept (to be stopped) even if another did not start."""
        starts = (self._start(name) for name in SERVICES for _ in range(2))
        started = await asyncio.gather(*starts, return_exceptions=True)
        for service in started:
            if isinstance(service, RunningService):
                self.running.setdefault(service.name, []).append(service)
        for failure in started:
            if isinstance(failure, BaseException):
                raise failure

    async def _start(self, name: str) -> RunningService:
        return await asyncio.to_thread(start_service, name, self.settings, self.log_dir)

    async def kill_and_restart(self, name: str) -> tuple[datetime, datetime]:
        """When the replica was killed and when its successor was ready."""
        killed = datetime.now(UTC)
        self.running[name][0].popen.kill()
        await asyncio.sleep(1)
        self.running[name][0] = await self._start(name)
        return killed, datetime.now(UTC)

    def port(self, name: str, replica: int = 1) -> int:
        return self.running[name][replica].port

    def every(self) -> list[RunningService]:
        return [one for replicas in self.running.values() for one in replicas]

    def stop(self) -> None:
        for one in self.every():
            one.popen.kill()


def ready(service: RunningService) -> bool:
    try:
        url = f"http://127.0.0.1:{service.port}/readyz"
        with urllib.request.urlopen(url, timeout=1) as reply:
            return reply.status == 200
    except OSError:
        return False


async def all_ready_within(replicas: Replicas, seconds: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if all(await asyncio.gather(*(asyncio.to_thread(ready, s) for s in replicas.every()))):
            return time.monotonic() - started
        await asyncio.sleep(0.2)
    late = [s.name for s in replicas.every() if not ready(s)]
    raise AssertionError(f"not ready {seconds} s after the servers came back: {late}")


async def pause(backend: Backend, server: str, seconds: float) -> tuple[datetime, datetime]:
    """Stop a server for `seconds`; when it was stopped and started again."""
    group = dict(backend.process_groups)[server]
    stopped = datetime.now(UTC)
    os.killpg(group, signal.SIGSTOP)
    try:
        await asyncio.sleep(seconds)
    finally:
        os.killpg(group, signal.SIGCONT)
    return stopped, datetime.now(UTC)


def distinct(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each event once by id; a repeated id must carry the same data."""
    by_id: dict[str, dict[str, Any]] = {}
    for one in events:
        assert by_id.setdefault(one["id"], one)["data"] == one["data"], one["id"]
    return by_id


@pytest.fixture
async def world(backend: Backend, tmp_path):
    if not backend.process_groups:
        pytest.skip("stopping the servers needs the embedded stack")  # containers: docker pause
    mailbox = Mailbox()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    policy = tmp_path / "policy.yaml"
    policy.write_text(yaml.safe_dump(POLICY), encoding="utf-8")
    settings = isolated_settings(
        backend, config=policy, smtp_port=smtp.port, api_tokens=f"{TOKEN}:admin"
    )
    await create_topics(settings, TEST_PARTITIONS)
    replicas = Replicas(settings, tmp_path)
    try:
        await replicas.start()
        yield settings, replicas, mailbox
    finally:
        replicas.stop()
        smtp.stop()


@pytest.mark.timeout(300)  # about 80 s on two cores
async def test_every_service_killed_and_the_servers_stopped_under_load(
    world, backend: Backend
) -> None:
    settings, replicas, mailbox = world
    recovered: dict[str, float] = {}
    outages: dict[str, tuple[datetime, datetime]] = {}
    unread: list[tuple[datetime, datetime]] = []  # what sla had not read: see check_breaches
    async with Load(settings, survey_port=lambda: replicas.port("survey")) as load:
        await load.agents_online()
        load.work()
        customers = asyncio.create_task(load.customers(TICKETS, PER_SECOND))
        for name in SERVICES:
            await asyncio.sleep(3)
            down = await replicas.kill_and_restart(name)
            if name in ("intake", "sla"):
                unread.append(down)
        for server in ("mongodb", "kafka"):
            outages[server] = await pause(backend, server, 10)
            recovered[server] = await all_ready_within(replicas, 10)
        await customers
        with contextlib.suppress(AssertionError):  # what is missing is reported below
            await wait_for(lambda: len(load.answered) >= TICKETS, within_s=90)
        async with TopicReader(settings, *READ) as reader:
            events = await reader.settle(3)
    stuck = unanswered(events, load.answered)
    assert len(load.answered) >= TICKETS, f"surveys never answered; their tickets' events: {stuck}"
    print(
        f"ready again after the store's return {recovered['mongodb']:.1f} s, the broker's "
        f"{recovered['kafka']:.1f} s; survey answers {Counter(load.survey_statuses)}"
    )
    seen = distinct(events)
    check_tickets(seen, load.sent, [*unread, outages["kafka"]])
    check_mail(mailbox, seen)
    await check_analytics(settings, replicas, seen)
    await check_workspace(settings, seen)


def unanswered(events: list[dict[str, Any]], answered: set[str]) -> dict[str, list[str]]:
    """Each ticket without an answered survey, with the types of the events it has."""
    types: dict[str, list[str]] = defaultdict(list)
    for one in events:
        ticket = (one.get("data") or {}).get("ticket_id")
        if ticket:
            types[ticket].append(one["type"].removeprefix("kefu."))
    done = {survey.partition("-")[0] for survey in answered}
    return {ticket: kinds for ticket, kinds in types.items() if ticket not in done}


def of_type(seen: dict[str, dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [one["data"] for one in seen.values() if one["type"] == f"kefu.{kind}"]


def check_tickets(
    seen: dict[str, dict[str, Any]], sent: list[str], unread: list[tuple[datetime, datetime]]
) -> None:
    opened = of_type(seen, "ticket.opened")
    assert sorted(one["first_message_id"] for one in opened) == sorted(sent)  # one each
    tickets = {one["ticket_id"] for one in opened}
    assigned = Counter(one["ticket_id"] for one in of_type(seen, "ticket.assigned"))
    assert assigned == Counter(tickets), "one assignment per ticket"
    check_capacity(seen)
    started = Counter(one["ticket_id"] for one in of_type(seen, "sla.started"))
    assert started == Counter(tickets), "one sla.started per ticket"
    check_breaches(seen, unread)
    solved = [one for one in of_type(seen, "ticket.status_changed") if one["to"] == "solved"]
    assert Counter(one["ticket_id"] for one in solved) == Counter(tickets)
    issued = Counter(one["ticket_id"] for one in of_type(seen, "survey.issued"))
    assert issued == Counter(tickets), "one survey per solve"
    assert not of_type(seen, "dlq.message"), "nothing dead-lettered"


def check_capacity(seen: dict[str, dict[str, Any]]) -> None:
    """At each assignment, the agent held fewer than its capacity: counting a ticket as held
    until it was solved (the router frees the slot later still), so a count over capacity is
    a certain breach of it."""
    solved_at = {
        one["ticket_id"]: datetime.fromisoformat(one["at"])
        for one in of_type(seen, "ticket.status_changed")
        if one["to"] == "solved"
    }
    by_agent: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for one in of_type(seen, "ticket.assigned"):
        by_agent[one["agent_id"]].append(one)
    for agent, taken in by_agent.items():
        for one in taken:
            at = datetime.fromisoformat(one["at"])
            held = [
                other
                for other in taken
                if datetime.fromisoformat(other["at"]) < at
                and solved_at.get(other["ticket_id"], datetime.max.replace(tzinfo=at.tzinfo)) > at
            ]
            assert len(held) < CAPACITY, f"{agent} over capacity at {at}: {held}"


def check_breaches(
    seen: dict[str, dict[str, Any]], unread: list[tuple[datetime, datetime]]
) -> None:
    """Every first response that came after its due time breached exactly once; none that
    came in time did, unless it was due while a reply could be unread by sla (`unread`: the
    broker stopped, a replica of intake or sla killed, until its successor was ready) or sla
    was catching up after it: sla breaches on what it has read. A reply intake decided just
    before the stop (or its kill) reaches sla only after its due time; a killed sla replica's
    partitions are read again only after the rebalance, while the other replica fires their
    due timers on time."""
    replied: dict[str, datetime] = {}
    for one in seen.values():
        if one["type"] == "kefu.ticket.agent_replied":
            at, ticket = datetime.fromisoformat(one["time"]), one["data"]["ticket_id"]
            replied[ticket] = min(at, replied.get(ticket, at))
    breaches = Counter((one["ticket_id"], one["metric"]) for one in of_type(seen, "sla.breached"))
    assert max(breaches.values(), default=1) == 1, "a breach announced twice"
    late = 0
    for started in of_type(seen, "sla.started"):
        for target in started["targets"]:
            if target["metric"] != "first_response":
                continue
            due = datetime.fromisoformat(target["due_at"])
            ticket = started["ticket_id"]
            breached = breaches[(ticket, "first_response")] == 1
            if replied[ticket] > due + SLACK:
                late += 1
                assert breached, f"{ticket} answered late and never breached"
            elif replied[ticket] < due - SLACK and not any(
                start - SLACK <= due <= end + CATCH_UP for start, end in unread
            ):
                assert not breached, f"{ticket} answered in time and breached"
    assert late, "the load answers some P1 tickets late"


def check_mail(mailbox: Mailbox, seen: dict[str, dict[str, Any]]) -> None:
    """No mail twice (a notification's Message-ID is its id); at most the mails in flight
    at notify's kill missing."""
    ids = Counter(str(mail["Message-ID"]) for mail in mailbox.mails)
    assert max(ids.values()) == 1, [i for i, n in ids.items() if n > 1]
    tickets = len(of_type(seen, "ticket.opened"))
    replies = len(of_type(seen, "ticket.agent_replied"))
    surveys = len(of_type(seen, "survey.issued"))
    wanted = tickets * 2 + replies + surveys  # opened and solved, every reply, the survey
    print(f"{len(mailbox.mails)} mails of {wanted}")
    assert wanted - SMTP_CONNECTIONS <= len(mailbox.mails) <= wanted


async def check_analytics(settings: Settings, replicas: Replicas, seen: dict[str, Any]) -> None:
    truth = {one["ticket_id"]: one["agent_id"] for one in of_type(seen, "ticket.assigned")}
    headers = {"Authorization": f"Bearer {TOKEN}"}
    base = f"http://127.0.0.1:{replicas.port('analytics')}"
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=10) as client:
        for ticket_id, agent in truth.items():
            found = (await client.get(f"/v1/tickets/{ticket_id}")).json()
            assert (found["status"], found["assignee"]) == ("solved", agent), found


async def check_workspace(settings: Settings, seen: dict[str, Any]) -> None:
    truth = {one["ticket_id"]: one["agent_id"] for one in of_type(seen, "ticket.assigned")}
    mongo: AsyncMongoClient = AsyncMongoClient(settings.mongodb_url.get_secret_value())
    try:
        found = mongo[settings.mongodb_db]["workspace_tickets"].find({})
        records = {doc["_id"]: doc["state"] async for doc in found}
    finally:
        await mongo.close()
    assert {t: (r["status"], r["assignee"]) for t, r in records.items()} == {
        t: ("solved", agent) for t, agent in truth.items()
    }

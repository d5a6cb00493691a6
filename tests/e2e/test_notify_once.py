"""Contract 4 for notify as processes: a SIGKILL in the middle of 200 tickets, and two
replicas, and the SMTP server receives no mail twice and every mail but one being handed
over at the instant of the kill (then recorded as sent: kefu prefers never to send twice)."""

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from pymongo import AsyncMongoClient

from kefu.embedded import free_port
from kefu.services.notify.providers import SMTP_CONNECTIONS
from kefu.shared.admin import create_topics
from kefu.shared.events.sla import SlaStarted, SlaTarget
from kefu.shared.events.ticket import Customer
from kefu.shared.service import Service
from kefu.shared.settings import Settings
from kefu.shared.topics import Topic
from tests import sla_events as ev
from tests.conftest import TEST_PARTITIONS, isolated_settings
from tests.e2e.processes import start_service
from tests.integration.notifying import Mailbox, wait_for

pytestmark = pytest.mark.e2e


def ticket_events(number: int) -> list[Any]:
    t, now = f"n{number:04}", datetime.now(UTC)
    due = [SlaTarget(metric="first_response", due_at=now + timedelta(minutes=15))]
    return [
        ev.opened(t, now, customer=Customer(address=f"{t}@example.com")),
        ev.event(SlaStarted(ticket_id=t, policy="p", targets=due), now),
    ]


@pytest.fixture
async def stack(backend, tmp_path):
    mailbox = Mailbox()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    settings = isolated_settings(backend, smtp_port=smtp.port)
    await create_topics(settings, TEST_PARTITIONS)
    publisher = Service.create("publisher", settings)
    publisher.bus.declare_publishes(Topic.TICKET_EVENTS, Topic.SLA_EVENTS)
    try:
        async with publisher.app():
            yield settings, mailbox, publisher
    finally:
        smtp.stop()


async def send_slowly(publisher: Service, count: int) -> None:
    for start in range(0, count, 10):
        await publisher.bus.publish(
            *(e for n in range(start, start + 10) for e in ticket_events(n))
        )
        await asyncio.sleep(0.05)


def assert_each_once(mailbox: Mailbox, count: int, in_flight: int = 0) -> None:
    """No recipient got two mails; at most `in_flight` got none."""
    recipients = Counter(str(mail["To"]) for mail in mailbox.mails)
    assert set(recipients.values()) == {1}, [r for r, c in recipients.items() if c > 1]
    expected = {f"n{n:04}@example.com" for n in range(count)}
    assert set(recipients) <= expected
    assert len(expected - set(recipients)) <= in_flight, sorted(expected - set(recipients))


async def statuses(settings: Settings) -> Counter[str]:
    client: AsyncMongoClient = AsyncMongoClient(settings.mongodb_url.get_secret_value())
    try:
        found = client[settings.mongodb_db]["notify_notifications"].find({})
        return Counter([document["status"] async for document in found])
    finally:
        await client.close()


async def test_a_notify_killed_mid_load_sends_each_mail_once(stack, tmp_path) -> None:
    settings, mailbox, publisher = stack
    notify = start_service("notify", settings, tmp_path)
    try:
        sending = asyncio.create_task(send_slowly(publisher, 200))
        await wait_for(lambda: len(mailbox.mails) >= 50, within_s=60)
        notify.popen.kill()  # SIGKILL mid-load
        await asyncio.sleep(1)
        notify = start_service("notify", settings, tmp_path)
        await sending
        await wait_for(lambda: len(mailbox.mails) >= 200 - SMTP_CONNECTIONS, within_s=90)
        await asyncio.sleep(12)  # leases of what the killed process held run out
    finally:
        notify.popen.kill()
    assert_each_once(mailbox, 200, in_flight=SMTP_CONNECTIONS)
    assert await statuses(settings) == Counter({"sent": 200})


async def test_two_notify_replicas_send_each_mail_once(stack, tmp_path) -> None:
    settings, mailbox, publisher = stack
    replicas = [start_service("notify", settings, tmp_path) for _ in range(2)]
    try:
        await asyncio.sleep(3)  # both replicas are in the group
        await send_slowly(publisher, 200)
        await wait_for(lambda: len(mailbox.mails) >= 200, within_s=90)
        await asyncio.sleep(3)
    finally:
        for replica in replicas:
            replica.popen.kill()
    assert_each_once(mailbox, 200)

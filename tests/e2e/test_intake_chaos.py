"""Contract 4: kill an intake replica with SIGKILL in the middle of a load; after it is
started again nothing is lost and nothing is duplicated."""

import asyncio
import json

import pytest
from aiokafka import AIOKafkaProducer

from kefu.shared.settings import Settings
from kefu.shared.topics import Topic, topic_name
from tests.e2e.processes import start_service
from tests.factories import message_body
from tests.kafka import TopicReader

pytestmark = pytest.mark.e2e
THREADS = 150


def conversation(index: int) -> list[dict]:
    """A first email and the customer's reply to it, from one address."""
    address = f"chaos{index}@example.com"
    first = message_body("email", f"<first-{index}@mail>", address)
    reply = message_body(
        "email", f"<reply-{index}@mail>", address, thread={"in_reply_to": first["message_id"]}
    )
    return [first, reply]


async def send_all(settings: Settings, bodies: list[dict]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        topic = topic_name(settings.topic_prefix, Topic.CHANNEL_INBOUND)
        for body in bodies:
            key = f"email:{body['from']['address']}".encode()
            await producer.send_and_wait(topic, json.dumps(body).encode(), key=key)
    finally:
        await producer.stop()


async def test_a_replica_killed_mid_load_loses_and_duplicates_nothing(
    settings: Settings, tmp_path
) -> None:
    replicas = [start_service("intake", settings, tmp_path) for _ in range(2)]
    bodies = [body for index in range(THREADS) for body in conversation(index)]
    bodies = sorted(bodies, key=lambda body: body["message_id"].startswith("<reply"))
    try:
        async with TopicReader(settings, Topic.TICKET_EVENTS, Topic.DLQ) as reader:
            await asyncio.sleep(3)  # both replicas are in the group
            sending = asyncio.create_task(send_all(settings, bodies))
            await reader.take(THREADS // 4, lambda e: e["type"] == "kefu.ticket.opened")
            replicas[0].popen.kill()  # SIGKILL while both replicas have a backlog
            await asyncio.sleep(1)
            replicas[0] = start_service("intake", settings, tmp_path)
            await sending
            received = await reader.take(
                len(bodies), lambda e: e["type"] == "kefu.ticket.message_received", wait_s=90
            )
            assert len(received) >= len(bodies), "messages were lost"
            events = await reader.settle(2.0)
    finally:
        for replica in replicas:
            replica.popen.kill()

    by_id: dict[str, dict] = {}
    for event in events:
        assert by_id.setdefault(event["id"], event) == event, "an id carried different data"
    unique_events = list(by_id.values())
    assert not [e for e in unique_events if e["type"] == "kefu.dlq.message"]
    opened = [e for e in unique_events if e["type"] == "kefu.ticket.opened"]
    messages = {
        e["correlationid"]: e for e in unique_events if e["type"] == "kefu.ticket.message_received"
    }
    assert len(opened) == len({e["subject"] for e in opened}) == THREADS
    assert len(messages) == len(bodies)
    for index in range(THREADS):
        first = messages[f"email:<first-{index}@mail>"]
        reply = messages[f"email:<reply-{index}@mail>"]
        assert first["subject"] == reply["subject"], f"reply {index} left its ticket"

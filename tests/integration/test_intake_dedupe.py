"""Dedupe through the real broker and store: repeats, restarts, two replicas, and the TTL."""

import asyncio
from datetime import UTC, datetime, timedelta

from pymongo import AsyncMongoClient

from shared.topics import Topic
from tests.conftest import Backend
from tests.factories import message_body
from tests.integration.conftest import running_intake, unique
from tests.integration.test_intake_channels import new_address
from tests.kafka import produce


def of(events: list[dict], correlation: str) -> list[str]:
    return [event["type"] for event in events if event.get("correlationid") == correlation]


async def test_a_message_sent_three_times_is_one_ticket(backend: Backend) -> None:
    body = message_body("email", unique("m-"), new_address("email"))
    key = f"email:{body['message_id']}"
    async with running_intake(backend) as intake:
        await intake.send(body, body, body)
        await intake.take(2, correlationid=key)
        events = await intake.settle(2.0)
    assert of(events, key) == ["kefu.ticket.opened", "kefu.ticket.message_received"]


async def test_a_message_re_sent_after_a_restart_is_still_one_ticket(backend: Backend) -> None:
    body = message_body("sms", unique("s-"), new_address("sms"))
    key = f"sms:{body['message_id']}"
    async with running_intake(backend) as intake:
        await intake.send(body)
        await intake.take(2, correlationid=key)
    async with running_intake(backend, intake.settings) as restarted:
        await restarted.send(body, body)
        later = message_body("sms", unique("s-"), body["from"]["address"])
        await restarted.send(later)
        await restarted.take(1, correlationid=f"sms:{later['message_id']}")
        events = await restarted.settle(1.5)
    assert of(events, key) == ["kefu.ticket.opened", "kefu.ticket.message_received"]


async def test_two_replicas_racing_on_the_same_messages_make_one_ticket_each(
    backend: Backend,
) -> None:
    """Each message is produced three times under different keys, so copies land on different
    partitions and the two replicas handle them at the same time. Both may publish the winner's
    events; an id always carries the same data, so consumers drop the repeat."""
    bodies = [message_body("email", unique("m-"), new_address("email")) for _ in range(10)]
    async with running_intake(backend) as intake, running_intake(backend, intake.settings):
        await asyncio.sleep(3)  # both replicas are members of the group
        for copy in range(3):
            for body in bodies:
                await produce(
                    intake.settings, Topic.CHANNEL_INBOUND, body, key=f"{copy}{body['message_id']}"
                )
        for body in bodies:
            await intake.take(2, correlationid=f"email:{body['message_id']}")
        events = await intake.settle(2.5)
    by_id = {}
    for event in events:
        assert by_id.setdefault(event["id"], event) == event, "an id carried different data"
    opened = [e for e in by_id.values() if e["type"] == "kefu.ticket.opened"]
    received = [e for e in by_id.values() if e["type"] == "kefu.ticket.message_received"]
    assert len(opened) == len(received) == len(bodies)
    assert len({e["data"]["ticket_id"] for e in opened}) == len(bodies)
    assert {e["data"]["ticket_id"] for e in received} == {e["data"]["ticket_id"] for e in opened}


async def test_dedupe_records_expire_after_the_configured_ttl(backend: Backend) -> None:
    body = message_body("chat", unique("c-"), thread={"conversation_id": unique("conv-")})
    async with running_intake(backend, dedupe_ttl_s=3600) as intake:
        await intake.send(body)
        await intake.take(2, correlationid=f"chat:{body['message_id']}")
        client = AsyncMongoClient(intake.settings.mongodb_url.get_secret_value(), tz_aware=True)
        inbound = client[intake.settings.mongodb_db]["intake_inbound"]
        record = await inbound.find_one({"_id": f"chat:{body['message_id']}"})
        indexes = [index async for index in await inbound.list_indexes()]
        await client.close()
    expected = datetime.now(UTC) + timedelta(seconds=3600)
    assert abs(record["expires_at"] - expected) < timedelta(seconds=30)
    assert any(index.get("expireAfterSeconds") == 0 for index in indexes)

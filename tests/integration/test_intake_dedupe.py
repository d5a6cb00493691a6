"""Dedupe through the real broker and store: repeats, restarts, two replicas, and the TTL."""

import asyncio
import json
from datetime import UTC, datetime, timedelta

from pymongo import AsyncMongoClient

from services.intake.conversation import thread_keys
from services.intake.store import IntakeStore
from services.intake.tickets import joined, joining_events, opened_conversation
from shared.admin import create_topics
from shared.inbound import ChannelMessage
from shared.service import Service
from shared.topics import Topic
from tests.conftest import TEST_PARTITIONS, Backend, isolated_settings
from tests.factories import message_body, opening
from tests.integration.conftest import POLICY, running_intake, unique
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


async def test_after_a_crash_between_record_and_publish_the_recorded_events_go_out(
    backend: Backend,
) -> None:
    """The record (outbox) was written, then intake died before publishing: the redelivered
    message publishes exactly what was recorded, and the ticket it opens is there to join."""
    settings = isolated_settings(backend, config=POLICY)
    await create_topics(settings, TEST_PARTITIONS)
    message = ChannelMessage.model_validate(message_body("email", f"<{unique()}@mail>"))
    decided_at = datetime.now(UTC) - timedelta(minutes=5)
    events = opening(message, ticket_id="4242", now=decided_at)
    store = IntakeStore(Service.create("intake", settings, IntakeStore.indexes()))
    opens = opened_conversation(message, thread_keys(message), events[0].data)
    await store.record(message.dedupe_key, events, decided_at, opens)

    async with running_intake(backend, settings) as intake:
        await intake.send(message_body("email", message.message_id))
        opened, received = await intake.take(2, correlationid=message.dedupe_key)
        reply = message_body("email", unique("m-"), thread={"in_reply_to": message.message_id})
        await intake.send(reply)
        joined_ticket = await intake.ticket_of(f"email:{reply['message_id']}")
    assert [opened, received] == [json.loads(event.to_bytes()) for event in events]
    assert joined_ticket == "4242"


async def test_two_replicas_racing_on_replies_add_each_once(backend: Backend) -> None:
    """Replies to one ticket, each produced under three keys, handled by two replicas at once:
    every reply joins the ticket exactly once (compare-and-swap plus the ticket's outbox)."""
    first = message_body("email", f"<{unique()}@mail>", new_address("email"))
    replies = [
        message_body("email", f"<{unique()}@mail>", thread={"in_reply_to": first["message_id"]})
        for _ in range(6)
    ]
    async with running_intake(backend) as intake, running_intake(backend, intake.settings):
        await intake.send(first)
        ticket = await intake.ticket_of(f"email:{first['message_id']}")
        await asyncio.sleep(3)  # both replicas are members of the group
        for copy in range(3):
            for reply in replies:
                key = f"{copy}{reply['message_id']}"
                await produce(intake.settings, Topic.CHANNEL_INBOUND, reply, key=key)
        for reply in replies:
            await intake.take(1, correlationid=f"email:{reply['message_id']}")
        events = await intake.settle(2.0)
    by_id: dict[str, dict] = {}
    for event in events:
        assert by_id.setdefault(event["id"], event) == event, "an id carried different data"
    received = [e for e in by_id.values() if e["type"] == "kefu.ticket.message_received"]
    assert len(received) == 1 + len(replies)
    assert {e["subject"] for e in received} == {ticket}


async def test_of_two_replicas_deciding_on_one_ticket_version_only_one_writes(
    backend: Backend,
) -> None:
    """What the race above relies on: the loser's compare-and-swap fails, and the ticket then
    holds the winner's events for that input, which the loser publishes instead of its own."""
    settings = isolated_settings(backend)
    store = IntakeStore(Service.create("intake", settings, IntakeStore.indexes()))
    first = ChannelMessage.model_validate(message_body("email", "<first@mail>"))
    opened = opening(first)[0].data
    await store.open_ticket(opened_conversation(first, thread_keys(first), opened).document())
    reply = ChannelMessage.model_validate(
        message_body("email", "<reply@mail>", thread={"in_reply_to": "<first@mail>"})
    )
    seen_by_a, seen_by_b = await store.ticket("1001"), await store.ticket("1001")
    now_a, now_b = datetime.now(UTC), datetime.now(UTC) + timedelta(seconds=1)
    events_a = joining_events(reply, seen_by_a, False, now_a)
    events_b = joining_events(reply, seen_by_b, False, now_b)

    assert await store.change_ticket(joined(seen_by_a, reply, now_a), reply.dedupe_key, events_a)
    assert not await store.change_ticket(
        joined(seen_by_b, reply, now_b), reply.dedupe_key, events_b
    )
    after = await store.ticket("1001")
    held = after.held_events(reply.dedupe_key)
    assert [event.to_bytes() for event in held] == [event.to_bytes() for event in events_a]
    assert after.message_refs == ["email:first@mail", "email:reply@mail"] and after.version == 2

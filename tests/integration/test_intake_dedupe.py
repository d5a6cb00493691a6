"""Dedupe through the real broker and store: repeats, restarts, two replicas, crashes."""

import asyncio
import json
from datetime import UTC, datetime, timedelta

from kefu.services.intake.conversation import JoinTicket
from kefu.services.intake.store import IntakeStore
from kefu.services.intake.tickets import joined, joining_events, opened_conversation
from kefu.shared.admin import create_topics
from kefu.shared.decisions import Slot
from kefu.shared.inbound import ChannelMessage
from kefu.shared.service import Service
from kefu.shared.store import ensure_indexes
from kefu.shared.topics import Topic
from tests.conftest import TEST_PARTITIONS, Backend, isolated_settings
from tests.factories import held, message_body, opening
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


async def test_after_a_crash_between_the_ticket_write_and_publishing_the_recorded_events_go_out(
    backend: Backend,
) -> None:
    """Intake wrote the new ticket with its events, then died before publishing them or
    pointing the message's keys at it: the redelivered message finds the ticket by the
    message that opened it and publishes exactly what was recorded; replies then join it."""
    settings = isolated_settings(backend, config=POLICY)
    await create_topics(settings, TEST_PARTITIONS)
    message = ChannelMessage.model_validate(message_body("email", f"<{unique()}@mail>"))
    decided_at = datetime.now(UTC) - timedelta(minutes=5)
    events = opening(message, ticket_id="4242", now=decided_at)
    service = Service.create("intake", settings, IntakeStore.indexes())
    await ensure_indexes(service.db, service.indexes)
    crashed = Slot("4242")
    crashed.record(message.dedupe_key, opened_conversation(message, events[0].data), events)
    assert await IntakeStore(service).tickets.save([crashed]) == set()

    async with running_intake(backend, settings) as intake:
        await intake.send(message_body("email", message.message_id))
        opened, received = await intake.take(2, correlationid=message.dedupe_key)
        reply = message_body("email", unique("m-"), thread={"in_reply_to": message.message_id})
        await intake.send(reply)
        joined_ticket = await intake.ticket_of(f"email:{reply['message_id']}")
        await intake.send(message_body("email", message.message_id))  # once more: a repeat
        events_now = await intake.settle(1.5)
    assert [opened, received] == [json.loads(event.to_bytes()) for event in events]
    assert joined_ticket == "4242"
    assert [e["id"] for e in events_now].count(events[0].id) == 1


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
    opening_events = opening(first)
    slot = Slot("1001")
    slot.record(
        first.dedupe_key, opened_conversation(first, opening_events[0].data), opening_events
    )
    await store.tickets.save([slot])
    reply = ChannelMessage.model_validate(
        message_body("email", "<reply@mail>", thread={"in_reply_to": "<first@mail>"})
    )
    seen_by_a = (await store.tickets.load(["1001"]))["1001"]
    seen_by_b = (await store.tickets.load(["1001"]))["1001"]
    now_a, now_b = datetime.now(UTC), datetime.now(UTC) + timedelta(seconds=1)
    for seen, now in ((seen_by_a, now_a), (seen_by_b, now_b)):
        choice = JoinTicket(seen.state, reopens=False)
        events = joining_events(reply, choice, now)
        seen.record(reply.dedupe_key, joined(choice, reply, now), events)

    assert await store.tickets.save([seen_by_a]) == set()
    assert await store.tickets.save([seen_by_b]) == {"1001"}
    after = (await store.tickets.load(["1001"]))["1001"]
    kept = held(after, reply.dedupe_key)
    assert [event.to_bytes() for event in kept] == [
        event.to_bytes()
        for event in joining_events(reply, JoinTicket(seen_by_a.state, reopens=False), now_a)
    ]
    assert after.has_applied(reply.dedupe_key) and after.version == 2

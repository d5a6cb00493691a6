"""The conversation record and the ticket API on the real broker and store, with the real
intake: customer messages and agents' actions become the conversation, commands go from
pending to applied or refused, a person's tickets and the queue, and the record's
indifference to redelivery and to the order of topics."""

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from kefu.embedded import free_port
from kefu.services.workspace.app import build
from kefu.services.workspace.entries import Entry
from kefu.services.workspace.handling import ConversationRecord
from kefu.services.workspace.record_store import RecordStore
from kefu.shared.admin import create_topics
from kefu.shared.consumer import Input
from kefu.shared.events.sla import SlaStarted, SlaTarget
from kefu.shared.events.ticket import Customer
from kefu.shared.service import Service
from kefu.shared.store import connect, database, ensure_indexes
from kefu.shared.topics import Topic
from tests import sla_events as ev
from tests.conftest import TEST_PARTITIONS, Backend, isolated_settings
from tests.factories import message_body
from tests.integration.conftest import POLICY, RunningIntake, running_intake, served, unique
from tests.integration.test_intake_channels import new_address
from tests.integration.test_workspace import ADMIN_PASSWORD, Workspace

Check = Callable[[httpx.Response], bool]


@dataclass
class Desk:
    workspace: Workspace
    intake: RunningIntake
    publisher: Service

    async def agent(self, **fields: Any) -> tuple[str, dict[str, str]]:
        person = await self.workspace.add(**fields)
        return person["id"], await self.workspace.token(person["id"], "correct horse")

    async def ticket(self, address: str | None = None, **fields: Any) -> str:
        body = message_body("email", unique("m-"), address or new_address("email"), **fields)
        await self.intake.send(body)
        return await self.intake.ticket_of(f"email:{body['message_id']}")

    async def until(self, path: str, headers: dict[str, str], check: Check) -> Any:
        """The answer to GET `path` once `check` holds (the workspace reads topics)."""
        for _ in range(200):
            answer = await self.workspace.http.get(path, headers=headers)
            if check(answer):
                return answer.json()
            await asyncio.sleep(0.1)
        raise AssertionError(f"GET {path} never matched; last: {answer.status_code} {answer.text}")

    async def conversation(self, ticket: str, headers: dict[str, str], check: Check) -> Any:
        path = f"/v1/tickets/{ticket}/conversation"
        return await self.until(path, headers, lambda r: r.status_code == 200 and check(r))

    async def act(self, ticket: str, headers: dict[str, str], **body: Any) -> str:
        sent = await self.workspace.http.post(
            f"/v1/tickets/{ticket}/actions", json=body, headers=headers
        )
        assert sent.status_code == 202, sent.text
        return sent.json()["command_id"]

    async def outcome(self, command_id: str, headers: dict[str, str]) -> Any:
        return await self.until(
            f"/v1/commands/{command_id}", headers, lambda r: r.json()["status"] != "pending"
        )


@pytest.fixture(scope="module")
async def desk(backend: Backend) -> AsyncIterator[Desk]:
    settings = isolated_settings(backend, admin_password=ADMIN_PASSWORD, config=POLICY)
    await create_topics(settings, TEST_PARTITIONS)
    publisher = Service.create("publisher", settings)
    publisher.bus.declare_publishes(Topic.TICKET_EVENTS, Topic.ROUTING_EVENTS, Topic.SLA_EVENTS)
    port = free_port()
    async with (
        running_intake(backend, settings=settings) as intake,
        served(build(settings), port),
        publisher.app(),
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http,
    ):
        workspace = Workspace(settings, http, "", {})
        workspace.admin = await workspace.token("admin", ADMIN_PASSWORD)
        yield Desk(workspace, intake, publisher)


def has(kind: str, **fields: Any) -> Check:
    def check(answer: httpx.Response) -> bool:
        return any(
            entry["kind"] == kind and all(entry.get(k) == v for k, v in fields.items())
            for entry in answer.json()["entries"]
        )

    return check


async def test_a_customer_message_becomes_a_ticket_whose_conversation_shows_it(
    desk: Desk,
) -> None:
    _, me = await desk.agent()
    address = new_address("email")
    file = {
        "filename": "receipt.pdf",
        "content_type": "application/pdf",
        "size": 10,
        "url": "s3://r",
    }
    first = await desk.ticket(address, subject="Where is my parcel?")
    second = await desk.ticket(address, subject="Refund", attachments=[file])
    seen = await desk.conversation(second, me, has("message"))
    ticket, [message] = seen["ticket"], seen["entries"]
    assert (ticket["ticket_id"], ticket["subject"], ticket["status"]) == (second, "Refund", "new")
    assert ticket["requester"]["address"] == address and ticket["queued"] is True
    assert (message["public"], message["author"]["type"], message["author"]["id"]) == (
        True,
        "customer",
        address,
    )
    assert message["text"] == "my order has not arrived" and message["attachments"] == [file]
    await desk.conversation(first, me, has("message"))
    history = (await desk.conversation(second, me, lambda r: True))["customer_history"]
    assert [(h["ticket_id"], h["subject"], h["status"]) for h in history] == [
        (first, "Where is my parcel?", "new")
    ]
    unknown = await desk.workspace.http.get("/v1/tickets/nothing/conversation", headers=me)
    assert unknown.status_code == 404
    no_one = await desk.workspace.http.get(f"/v1/tickets/{first}/conversation")
    assert no_one.status_code == 401


async def test_replies_and_notes_are_sent_as_the_person_and_shown_with_their_name(
    desk: Desk,
) -> None:
    person, me = await desk.agent(name="Han Meimei")
    _, colleague = await desk.agent()
    ticket = await desk.ticket()
    reply = await desk.act(ticket, me, action="reply", text="It ships today")
    pending = await desk.workspace.http.get(f"/v1/commands/{reply}", headers=me)
    assert pending.status_code == 200 and pending.json()["status"] in ("pending", "applied")
    assert (await desk.outcome(reply, me))["status"] == "applied"
    note = await desk.act(ticket, me, action="note", text="VIP, be quick", command_id=unique("n-"))
    assert (await desk.outcome(note, me))["status"] == "applied"
    seen = await desk.conversation(ticket, me, has("note"))
    kinds = {entry["kind"]: entry for entry in seen["entries"]}
    assert (kinds["reply"]["public"], kinds["reply"]["text"]) == (True, "It ships today")
    assert kinds["reply"]["author"] == {"type": "agent", "id": person, "name": "Han Meimei"}
    assert (kinds["note"]["public"], kinds["note"]["author"]["id"]) == (False, person)
    assert [entry["kind"] for entry in seen["entries"]] == ["message", "reply", "note"]

    theirs = await desk.workspace.http.get(f"/v1/commands/{reply}", headers=colleague)
    boss = await desk.workspace.http.get(f"/v1/commands/{reply}", headers=desk.workspace.admin)
    assert (theirs.status_code, boss.status_code) == (404, 200)
    missing = await desk.workspace.http.get("/v1/commands/nothing", headers=me)
    assert missing.status_code == 404


async def test_a_command_sent_straight_to_intake_leaves_no_command_document(desk: Desk) -> None:
    """Only commands sent through the workspace are recorded (before they are sent), so the
    outcome of one an integration sent to `agent.inbound` itself is not kept."""
    _, me = await desk.agent()
    ticket, command_id = await desk.ticket(), unique("straight-")
    command = {"action": "reply", "agent_id": "bot", "command_id": command_id}
    await desk.intake.act({**command, "ticket_id": ticket, "text": "On it"})
    await desk.conversation(ticket, me, has("reply", text="On it"))
    await asyncio.sleep(1)  # the outcome comes with the reply: time to (not) be kept
    kept = await desk.workspace.http.get(f"/v1/commands/{command_id}", headers=desk.workspace.admin)
    assert kept.status_code == 404


async def test_an_action_body_naming_an_agent_or_invalid_is_refused(desk: Desk) -> None:
    _, me = await desk.agent()
    path = "/v1/tickets/1001/actions"
    for body, field in [
        ({"action": "note", "text": "x", "agent_id": "someone"}, "agent_id"),
        ({"action": "set_priority", "priority": "P9"}, "priority"),
        ({"action": "presence", "status": "online"}, "body"),
    ]:
        refused = await desk.workspace.http.post(path, json=body, headers=me)
        assert refused.status_code == 422, refused.text
        assert field in [
            str(part) for problem in refused.json()["detail"] for part in problem["loc"]
        ]
    mine = {"action": "note", "text": "x", "command_id": unique("c-")}
    assert (await desk.workspace.http.post(path, json=mine, headers=me)).status_code == 202
    _, other = await desk.agent()
    taken = await desk.workspace.http.post(path, json=mine, headers=other)
    assert taken.status_code == 409


async def test_a_reply_on_a_closed_ticket_is_refused_with_intakes_reason(desk: Desk) -> None:
    _, me = await desk.agent()
    ticket = await desk.ticket()
    closed = await desk.act(ticket, me, action="set_status", status="closed")
    assert (await desk.outcome(closed, me))["status"] == "applied"
    late = await desk.act(ticket, me, action="reply", text="too late")
    refused = await desk.outcome(late, me)
    assert refused["status"] == "refused" and f"ticket {ticket} is closed" in refused["reason"]
    seen = await desk.conversation(
        ticket, me, has("event", event_type="kefu.ticket.status_changed")
    )
    assert "reply" not in [entry["kind"] for entry in seen["entries"]]


async def test_my_tickets_are_those_assigned_to_me_by_due_time_and_the_queue_the_rest(
    desk: Desk,
) -> None:
    person, me = await desk.agent()
    later, sooner, solved, waiting = [await desk.ticket() for _ in range(4)]
    now = datetime.now(UTC)
    due = SlaTarget(metric="first_response", due_at=now + timedelta(minutes=5))
    await desk.publisher.bus.publish(
        *(ev.assigned(ticket, person, now) for ticket in (later, sooner, solved)),
        ev.event(SlaStarted(ticket_id=sooner, policy="p", targets=[due]), now),
    )
    done = await desk.act(solved, me, action="set_status", status="solved")
    assert (await desk.outcome(done, me))["status"] == "applied"
    mine = await desk.until(
        "/v1/me/tickets", me, lambda r: [t["ticket_id"] for t in r.json()] == [sooner, later]
    )
    assert mine[0]["next_due_at"] is not None and mine[0]["status"] == "open"
    assert set(mine[0]) >= {"subject", "priority", "requester", "last_message_at"}
    queue = await desk.until(
        "/v1/queue?limit=500", desk.workspace.admin, lambda r: waiting in str(r.json())
    )
    assert not {later, sooner, solved} & {t["ticket_id"] for t in queue}
    assert (await desk.workspace.http.get("/v1/queue", headers=me)).status_code == 403
    too_many = await desk.workspace.http.get("/v1/queue?limit=100000", headers=desk.workspace.admin)
    assert too_many.status_code == 422


async def test_a_merged_tickets_entries_show_in_the_target(desk: Desk) -> None:
    _, me = await desk.agent()
    address = new_address("email")
    source, target = await desk.ticket(address), await desk.ticket(address)
    merge = await desk.act(source, me, action="merge", into_ticket_id=target)
    assert (await desk.outcome(merge, me))["status"] == "applied"
    seen = await desk.conversation(target, me, has("event", event_type="kefu.ticket.merged"))
    assert seen["ticket"]["merged_from"] == [source]
    assert {entry["ticket_id"] for entry in seen["entries"] if entry["kind"] == "message"} == {
        source,
        target,
    }
    closed = await desk.conversation(source, me, lambda r: r.json()["ticket"]["status"] == "closed")
    assert closed["ticket"]["merged_into"] == target


async def test_the_record_takes_events_twice_and_topics_in_any_order(desk: Desk) -> None:
    _, me = await desk.agent()
    ticket, now = unique("r-"), datetime.now(UTC)
    routing = [ev.assigned(ticket, "ann", now + timedelta(seconds=1))]
    tickets = [ev.opened(ticket, now, subject="Twice"), ev.customer_wrote(ticket, now)]
    publish = desk.publisher.bus.publish
    await publish(*routing)  # the assignment reaches the workspace before the opening
    await desk.conversation(ticket, me, has("event", event_type="kefu.ticket.assigned"))
    await publish(*tickets, *tickets, *routing)
    seen = await desk.conversation(ticket, me, has("message"))
    await publish(*routing, *tickets)
    await asyncio.sleep(1)
    again = await desk.conversation(ticket, me, has("message"))
    assert again == seen and len(seen["entries"]) == 2
    assert (seen["ticket"]["status"], seen["ticket"]["assignee"]) == ("open", "ann")
    assert seen["ticket"]["subject"] == "Twice" and seen["ticket"]["queued"] is False


async def test_setting_what_the_ticket_has_is_applied_when_sent(desk: Desk) -> None:
    _, me = await desk.agent()
    ticket = await desk.ticket()
    priority = (await desk.conversation(ticket, me, has("message")))["ticket"]["priority"]
    same = await desk.act(ticket, me, action="set_priority", priority=priority)
    answer = await desk.workspace.http.get(f"/v1/commands/{same}", headers=me)
    assert answer.json()["status"] == "applied"  # intake emits nothing for it


async def test_listeners_get_each_new_entry_and_again_when_they_failed(settings) -> None:
    client = connect(settings)
    store = RecordStore(database(client, settings))

    async def publish(*events: object) -> None:
        assert not events  # the record publishes nothing

    record = ConversationRecord(SimpleNamespace(publish=publish), store)
    told: list[list[str]] = []

    async def listener(entries: list[Entry]) -> None:
        told.append([entry.id for entry in entries])
        if len(told) == 1:
            raise RuntimeError("the index is away")

    record.listeners.append(listener)
    now = datetime.now(UTC)
    events = [ev.opened("1001", now), ev.customer_wrote("1001", now), ev.replied("1001", now)]
    inputs = [Input(None, event) for event in events]
    try:
        with pytest.raises(RuntimeError):
            await record.handle(inputs)
        await record.handle(inputs)  # read again after the failure
        await record.handle(inputs)  # and after success
        stored = await store.conversation(["1001"])
    finally:
        await client.close()
    assert told == [[events[1].id, events[2].id]] * 2
    assert [entry.id for entry in stored] == [events[1].id, events[2].id]


async def test_each_read_of_the_desk_is_the_stores_small_indexed_read(settings) -> None:
    """The store's reads behind the endpoints, on summaries the record's own code folded: a
    customer's newest tickets (no one else's, however alike their key), a person's worked
    tickets, the queue in order, and a conversation gathered ticket by ticket."""
    client = connect(settings)
    db = database(client, settings)
    await ensure_indexes(db, RecordStore.indexes())
    store = RecordStore(db)

    async def publish(*events: object) -> None:
        assert not events

    record = ConversationRecord(SimpleNamespace(publish=publish), store)
    now = datetime.now(UTC)
    many, alike = Customer(address="many@example.com"), Customer(address="x", id="many@example.com")
    events = [ev.opened(f"h{n}", now + timedelta(minutes=n), customer=many) for n in range(25)]
    events += [ev.assigned(f"h{n}", "carl", now) for n in range(25)]
    events += [ev.opened("o1", now, customer=alike), ev.assigned("o1", "carl", now)]
    for ticket, agent in (("d1", "ann"), ("d2", "ann"), ("d3", "ann"), ("d4", "bob")):
        events += [ev.opened(ticket, now), ev.assigned(ticket, agent, now)]
    events += [
        ev.status("d2", "open", "pending", now),
        ev.status("d3", "open", "solved", now),
        *(ev.opened(q, now, priority=p) for q, p in (("q1", "P1"), ("q2", "P4"), ("q3", "P2"))),
        ev.customer_wrote("m1", now),
        ev.customer_wrote("m2", now + timedelta(seconds=1)),
        *ev.merged("m1", "m2", now + timedelta(seconds=2)),
    ]
    try:
        await record.handle([Input(None, event) for event in events])
        newest, oldest, other = [await store.summary(t) for t in ("h24", "h0", "o1")]
        histories = [await store.history(ticket) for ticket in (newest, oldest, other)]
        desks = [await store.desk(person) for person in ("ann", "bob", "carl", "nobody")]
        queue = await store.queue(2)
        target = await store.summary("m2")
        sources = await store.merged_sources(target)
        conversation = await store.conversation(["m2", *sources, "m2"])
    finally:
        await client.close()
    assert [[t.ticket_id for t in history] for history in histories] == [
        [f"h{n}" for n in range(23, 3, -1)],
        [f"h{n}" for n in range(24, 4, -1)],
        [],
    ]
    assert [sorted(t.ticket_id for t in desk) for desk in desks[:2]] == [["d1", "d2"], ["d4"]]
    assert len(desks[2]) == 26 and desks[3] == []
    assert [t.ticket_id for t in queue] == ["q1", "q3"]
    assert sources == ["m1"]
    assert [(e.ticket_id, e.kind) for e in conversation] == [
        ("m1", "message"),
        ("m2", "message"),
        ("m1", "event"),
        ("m1", "event"),
    ]

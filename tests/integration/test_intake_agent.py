"""Agent presence and actions through the real broker and store."""

import pytest

from tests.factories import message_body
from tests.integration.conftest import RunningIntake, unique
from tests.integration.test_intake_channels import new_address


def command(action: str, ticket_id: str | None = None, **fields) -> dict:
    body = {"action": action, "agent_id": "agent-7", "command_id": unique("cmd-"), **fields}
    return {**body, "ticket_id": ticket_id} if ticket_id else body


async def new_ticket(intake: RunningIntake) -> str:
    body = message_body("email", unique("m-"), new_address("email"))
    await intake.send(body)
    return await intake.ticket_of(f"email:{body['message_id']}")


async def test_presence_becomes_agent_status_changed(intake: RunningIntake) -> None:
    agent = unique("agent-")
    with_id = {
        "action": "presence",
        "agent_id": agent,
        "command_id": unique("p-"),
        "status": "online",
        "skills": ["billing", "tech"],
        "capacity": 3,
        "tier": 2,
    }
    without_id = {"action": "presence", "agent_id": agent, "status": "away", "capacity": 3}
    await intake.act(with_id, without_id)
    first, second = await intake.take(2, subject=agent)
    assert first["type"] == "kefu.agent.status_changed"
    assert first["id"] == f"intake:agent:{with_id['command_id']}"
    assert first["data"] | {"at": None} == {
        "agent_id": agent,
        "status": "online",
        "skills": ["billing", "tech"],
        "capacity": 3,
        "tier": 2,
        "at": None,
    }
    assert second["data"]["status"] == "away" and second["id"].startswith("intake:presence:")


@pytest.mark.parametrize(
    ("action", "fields", "event_type", "expected"),
    [
        (
            "reply",
            {"text": "It ships today"},
            "kefu.ticket.agent_replied",
            {"public": True, "text": "It ships today"},
        ),
        ("note", {"text": "VIP, be quick"}, "kefu.ticket.note_added", {"text": "VIP, be quick"}),
        (
            "set_status",
            {"status": "on_hold"},
            "kefu.ticket.status_changed",
            {"from": "new", "to": "on_hold"},
        ),
        (
            "set_priority",
            {"priority": "P2"},
            "kefu.ticket.priority_changed",
            {"from": "P3", "to": "P2"},
        ),
        (
            "transfer",
            {"to_skill": "billing", "reason": "refund"},
            "kefu.ticket.transfer_requested",
            {"to_skill": "billing", "from_agent_id": None, "by": "agent-7"},
        ),
        (
            "escalate",
            {"reason": "specialist"},
            "kefu.ticket.escalated",
            {"from_tier": 1, "to_tier": 2},
        ),
    ],
)
async def test_each_action_becomes_its_event(
    intake: RunningIntake, action, fields, event_type, expected
) -> None:
    ticket = await new_ticket(intake)
    sent = command(action, ticket, **fields)
    await intake.act(sent)
    [event] = await intake.take(1, correlationid=sent["command_id"])
    assert event["type"] == event_type and event["subject"] == ticket
    assert event["data"] | expected == event["data"]


async def test_a_command_sent_three_times_acts_once(intake: RunningIntake) -> None:
    ticket = await new_ticket(intake)
    escalate = command("escalate", ticket)
    await intake.act(escalate, escalate, escalate)
    await intake.take(1, correlationid=escalate["command_id"])
    events = await intake.settle(1.5)
    assert [e["type"] for e in events if e.get("correlationid") == escalate["command_id"]] == [
        "kefu.ticket.escalated"
    ]
    follow = command("escalate", ticket)
    await intake.act(follow)
    [again] = await intake.take(1, correlationid=follow["command_id"])
    assert (again["data"]["from_tier"], again["data"]["to_tier"]) == (2, 3)


async def email_ticket(intake: RunningIntake, address: str, **extra) -> tuple[str, str]:
    """A new email ticket from `address`: its id and its first Message-ID."""
    body = message_body("email", f"<{unique()}@mail.example>", address, **extra)
    await intake.send(body)
    return await intake.ticket_of(f"email:{body['message_id']}"), body["message_id"]


async def test_set_category_becomes_category_changed_once(intake: RunningIntake) -> None:
    ticket = await new_ticket(intake)
    [opened] = await intake.take(1, type="kefu.ticket.opened", subject=ticket)
    recategorise = command("set_category", ticket, category=["billing", "payment", "退款"])
    await intake.act(recategorise)
    [changed] = await intake.take(1, correlationid=recategorise["command_id"])
    assert (changed["type"], changed["id"], changed["subject"]) == (
        "kefu.ticket.category_changed",
        f"intake:agent:{recategorise['command_id']}",
        ticket,
    )
    assert changed["data"] | {"at": None} == {
        "ticket_id": ticket,
        "from": opened["data"]["category"],
        "to": ["billing", "payment", "退款"],
        "agent_id": "agent-7",
        "at": None,
    }
    again = command("set_category", ticket, category=["billing", "payment", "退款"])
    later = command("set_category", ticket, category=["billing", "invoice", "copy"])
    await intake.act(again, later)
    [moved] = await intake.take(1, correlationid=later["command_id"])
    assert moved["data"]["from"] == ["billing", "payment", "退款"]
    seen = await intake.settle(1)  # a no-op: applied, and neither an event nor a refusal
    assert not [e for e in seen if e.get("correlationid") == again["command_id"]]


async def test_a_merge_closes_the_source_and_its_thread_goes_on_in_the_target(
    intake: RunningIntake,
) -> None:
    address = new_address("email")
    source, source_message = await email_ticket(intake, address)
    target, _ = await email_ticket(intake, address.upper())  # the same customer, any case
    merge = command("merge", source, into_ticket_id=target)
    await intake.act(merge)
    merged, closed = await intake.take(2, correlationid=merge["command_id"])
    assert (merged["type"], merged["id"], merged["subject"]) == (
        "kefu.ticket.merged",
        f"intake:agent:{merge['command_id']}",
        source,
    )
    assert merged["data"] | {"at": None} == {
        "ticket_id": source,
        "into_ticket_id": target,
        "agent_id": "agent-7",
        "at": None,
    }
    assert (closed["type"], closed["id"], closed["subject"]) == (
        "kefu.ticket.status_changed",
        f"intake:agent:{merge['command_id']}:closed",
        source,
    )
    assert (closed["data"]["from"], closed["data"]["to"], closed["data"]["reason"]) == (
        "new",
        "closed",
        "merged",
    )

    reply = message_body(
        "email", f"<{unique()}@mail.example>", address, thread={"in_reply_to": source_message}
    )
    tokened = message_body("email", unique("m-"), address, subject=f"Re: [#{source}] again")
    await intake.send(reply)
    [received] = await intake.take(1, correlationid=f"email:{reply['message_id']}")
    assert received["type"] == "kefu.ticket.message_received" and received["subject"] == target
    await intake.send(tokened)
    assert await intake.ticket_of(f"email:{tokened['message_id']}") == target
    seen = await intake.settle(1)
    assert [e["type"] for e in seen if e["subject"] == source] == [  # never reopened
        "kefu.ticket.opened",
        "kefu.ticket.message_received",
        "kefu.ticket.merged",
        "kefu.ticket.status_changed",
    ]
    later = (f"email:{reply['message_id']}", f"email:{tokened['message_id']}")
    assert [e["type"] for e in seen if e.get("correlationid") in later] == [
        "kefu.ticket.message_received"
    ] * 2  # no follow-up opened


async def test_a_chat_merged_into_a_related_ticket_goes_on_there(intake: RunningIntake) -> None:
    """A stranger's token opened a ticket related to the named one: they may be merged."""
    named, _ = await email_ticket(intake, new_address("email"))
    stranger = message_body(
        "email", unique("m-"), new_address("email"), subject=f"Re: [#{named}] it is me"
    )
    await intake.send(stranger)
    related = await intake.ticket_of(f"email:{stranger['message_id']}")
    merge = command("merge", named, into_ticket_id=related)  # related_to the other way round
    await intake.act(merge)
    await intake.take(2, correlationid=merge["command_id"])
    chat = {"conversation_id": unique("conv-")}
    first = message_body("chat", unique("c-"), unique("v"), thread=chat)
    await intake.send(first)
    chat_ticket = await intake.ticket_of(f"chat:{first['message_id']}")
    refused = command("merge", chat_ticket, into_ticket_id=related)  # another customer
    await intake.act(refused)
    [told] = await intake.take(1, id=f"intake:agent:{refused['command_id']}:refused")
    assert "not the same customer's" in told["data"]["reason"]


async def test_merges_and_categories_the_ticket_forbids_are_refused(
    intake: RunningIntake,
) -> None:
    address = new_address("email")
    source, _ = await email_ticket(intake, address)
    target, _ = await email_ticket(intake, address)
    solved, _ = await email_ticket(intake, address)
    stranger, _ = await email_ticket(intake, new_address("email"))
    solve = command("set_status", solved, status="solved")
    merge = command("merge", source, into_ticket_id=target)
    await intake.act(solve, merge)
    await intake.take(1, correlationid=solve["command_id"])
    await intake.take(2, correlationid=merge["command_id"])
    refused = [
        (command("merge", target, into_ticket_id=target), target, "merged into itself"),
        (command("merge", target, into_ticket_id="no-such"), target, "no-such does not exist"),
        (command("merge", target, into_ticket_id=source), target, f"{source} is closed"),
        (command("merge", target, into_ticket_id=solved), target, f"{solved} is solved"),
        (command("merge", solved, into_ticket_id=target), solved, f"{solved} is solved"),
        (command("merge", target, into_ticket_id=stranger), target, "not the same customer's"),
        (command("merge", source, into_ticket_id=target), source, f"{source} is closed"),
        (command("set_category", source, category=["a", "b", "c"]), source, "is closed"),
        (command("set_category", "no-such", category=["a", "b", "c"]), "no-such", "not exist"),
        (command("set_category", target, category=["a", ""]), target, "set_category.category"),
    ]
    await intake.act(*(body for body, _, _ in refused))
    for body, ticket_id, reason in refused:
        [told] = await intake.take(1, id=f"intake:agent:{body['command_id']}:refused")
        data = told["data"]
        assert (data["action"], data["ticket_id"]) == (body["action"], ticket_id)
        assert reason in data["reason"], data["reason"]
        [letter] = await intake.take(1, type="kefu.dlq.message", correlationid=body["command_id"])
        assert letter["data"]["error"] == data["reason"]


async def test_attachments_arrive_on_message_received(intake: RunningIntake) -> None:
    files = [
        {
            "filename": "receipt.pdf",
            "content_type": "application/pdf",
            "size": 48213,
            "url": "https://files.example/receipt.pdf",
        },
        {"filename": "截图.png", "content_type": "image/png", "size": 0, "url": "s3://b/k"},
    ]
    body = message_body("email", unique("m-"), new_address("email"), attachments=files)
    plain = message_body("email", unique("m-"), new_address("email"))
    await intake.send(body, plain)
    [received] = await intake.take(
        1, correlationid=f"email:{body['message_id']}", type="kefu.ticket.message_received"
    )
    assert received["data"]["attachments"] == files
    [bare] = await intake.take(
        1, correlationid=f"email:{plain['message_id']}", type="kefu.ticket.message_received"
    )
    assert bare["data"]["attachments"] == []

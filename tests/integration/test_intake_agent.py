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

"""Intake follows routing.events (the real router beside it) to know each ticket's assignee,
and tells agents, on agent.events, which of their commands it refused and why."""

import asyncio
import json
from pathlib import Path

from kefu.shared.settings import Settings
from kefu.shared.store import connect, database
from kefu.shared.topics import Topic
from tests.conftest import Backend
from tests.factories import message_body
from tests.integration.conftest import RunningIntake, running_intake, unique
from tests.integration.routing import running_router
from tests.integration.test_intake_agent import command, new_ticket
from tests.integration.test_intake_channels import new_address
from tests.kafka import produce


async def intake_learns_assignee(
    settings: Settings, ticket: str, assignee: str | None, wait_s: float = 20
) -> None:
    """Wait until intake's state of the ticket has this assignee."""
    client = connect(settings)
    try:
        tickets = database(client, settings)["intake_tickets"]
        for _ in range(int(wait_s / 0.1)):
            found = await tickets.find_one({"_id": ticket}, {"state": 1})
            if found and found["state"].get("assignee") == assignee:
                return
            await asyncio.sleep(0.1)
    finally:
        await client.close()
    raise AssertionError(f"intake never had {assignee} as the assignee of ticket {ticket}")


def online(agent: str) -> dict:
    return {
        "action": "presence",
        "agent_id": agent,
        "status": "online",
        "skills": ["general"],
        "capacity": 5,
    }


async def test_replies_and_transfers_name_the_assignee(backend: Backend, tmp_path: Path) -> None:
    async with (
        running_intake(backend) as intake,
        running_router(backend, tmp_path, settings=intake.settings) as router,
    ):
        owner, colleague, lead = unique("own-"), unique("col-"), unique("lead-")
        await intake.act(online(owner))
        await intake.take(1, subject=owner)
        body = message_body("email", unique("m-"), new_address("email"))
        await intake.send(body)
        ticket = await intake.ticket_of(f"email:{body['message_id']}")
        await router.routed(1, type="assigned", ticket_id=ticket, agent_id=owner)
        await intake_learns_assignee(intake.settings, ticket, owner)

        covering = {**command("reply", ticket, text="I can help"), "agent_id": colleague}
        internal = {**command("reply", ticket, text="fyi", public=False), "agent_id": lead}
        own = {**command("reply", ticket, text="Back now"), "agent_id": owner}
        transfer = {**command("transfer", ticket, to_skill="billing"), "agent_id": lead}
        await intake.act(covering, internal, own, transfer)
        replies = [
            (await intake.take(1, correlationid=c["command_id"]))[0]
            for c in (covering, internal, own, transfer)
        ]
        assert [r["data"].get("on_behalf") for r in replies[:3]] == [owner, None, None]
        assert [r["data"]["agent_id"] for r in replies[:3]] == [colleague, lead, owner]
        moved = replies[3]["data"]
        assert (moved["from_agent_id"], moved["by"]) == (owner, lead)
        await router.routed(1, type="unassigned", ticket_id=ticket, agent_id=owner)
        await intake_learns_assignee(intake.settings, ticket, None)  # no billing agent: queued


async def test_refused_commands_are_told_to_their_agent_and_kept_in_the_dlq(
    intake: RunningIntake,
) -> None:
    ticket = await new_ticket(intake)
    close = command("set_status", ticket, status="closed")
    await intake.act(close)
    await intake.take(1, correlationid=close["command_id"])
    refused = [
        (command("reply", ticket, text="too late"), ticket, f"ticket {ticket} is closed"),
        (command("set_status", ticket, status="pending"), ticket, f"ticket {ticket} is closed"),
        (command("note", "no-such-ticket", text="x"), "no-such-ticket", "does not exist"),
        (command("set_priority", ticket, priority="P9"), ticket, "set_priority.priority"),
    ]
    await intake.act(*(body for body, _, _ in refused))
    for body, ticket_id, reason in refused:
        [told] = await intake.take(1, id=f"intake:agent:{body['command_id']}:refused")
        assert told["type"] == "kefu.agent.command_refused" and told["subject"] == "agent-7"
        data = told["data"]
        assert (data["agent_id"], data["command_id"], data["action"], data["ticket_id"]) == (
            "agent-7",
            body["command_id"],
            body["action"],
            ticket_id,
        )
        assert reason in data["reason"]
        [letter] = await intake.take(1, type="kefu.dlq.message", correlationid=body["command_id"])
        assert letter["data"]["error"] == data["reason"]


async def test_a_command_nobody_can_be_told_about_only_goes_to_the_dlq(
    intake: RunningIntake,
) -> None:
    anonymous = {"action": "note", "ticket_id": "1001", "text": "x", "command_id": unique("c-")}
    await produce(intake.settings, Topic.AGENT_INBOUND, json.dumps(anonymous).encode(), key="x")
    [letter] = await intake.take(1, type="kefu.dlq.message", correlationid=anonymous["command_id"])
    assert "note.agent_id: Field required" in letter["data"]["error"]
    seen = await intake.settle(1)
    assert not [
        e
        for e in seen
        if e["type"] == "kefu.agent.command_refused"
        and e["data"]["command_id"] == anonymous["command_id"]
    ]

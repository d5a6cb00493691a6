"""Every threading rule through the real broker and store (contract 2.1)."""

from datetime import UTC, datetime, timedelta

import pytest

from tests.factories import message_body
from tests.integration.conftest import RunningIntake, running_intake, unique
from tests.integration.test_intake_channels import new_address


def set_status(ticket_id: str, status: str) -> dict:
    return {
        "action": "set_status",
        "agent_id": "agent-1",
        "command_id": unique("cmd-"),
        "ticket_id": ticket_id,
        "status": status,
    }


async def first_ticket(intake: RunningIntake, body: dict) -> str:
    await intake.send(body)
    return await intake.ticket_of(f"{body['channel']}:{body['message_id']}")


async def test_email_in_reply_to_joins_the_ticket(intake: RunningIntake) -> None:
    first_id = f"<{unique()}@mail.example>"
    ticket = await first_ticket(intake, message_body("email", first_id, new_address("email")))
    reply = message_body(
        "email", unique("<r"), new_address("email"), thread={"in_reply_to": first_id.strip("<>")}
    )
    await intake.send(reply)
    assert await intake.ticket_of(f"email:{reply['message_id']}") == ticket


async def test_email_references_join_the_ticket(intake: RunningIntake) -> None:
    first_id = f"<{unique()}@mail.example>"
    ticket = await first_ticket(intake, message_body("email", first_id, new_address("email")))
    second = message_body("email", f"<{unique()}@mail.example>", thread={"in_reply_to": first_id})
    await intake.send(second)
    assert await intake.ticket_of(f"email:{second['message_id']}") == ticket
    third = message_body(
        "email",
        f"<{unique()}@mail.example>",
        thread={
            "in_reply_to": "<not-ours@elsewhere>",
            "references": [first_id, second["message_id"]],
        },
    )
    await intake.send(third)
    assert await intake.ticket_of(f"email:{third['message_id']}") == ticket


async def test_the_subject_token_joins_the_ticket(intake: RunningIntake) -> None:
    """The requester's mail with the token joins, whatever the case of the address."""
    requester = new_address("email")
    ticket = await first_ticket(intake, message_body("email", unique("m-"), requester))
    later = message_body("email", unique("m-"), requester.upper(), subject=f"Re: [#{ticket}] Hi")
    await intake.send(later)
    assert await intake.ticket_of(f"email:{later['message_id']}") == ticket


async def test_a_strangers_mail_with_the_token_opens_its_own_related_ticket(
    intake: RunningIntake,
) -> None:
    ticket = await first_ticket(intake, message_body("email", unique("m-"), new_address("email")))
    await intake.act(set_status(ticket, "solved"))
    await intake.take(1, type="kefu.ticket.status_changed", subject=ticket)
    stranger = message_body(
        "email", unique("m-"), new_address("email"), subject=f"Re: [#{ticket}] I am the customer"
    )
    await intake.send(stranger)
    opened, received = await intake.take(2, correlationid=f"email:{stranger['message_id']}")
    assert opened["type"] == "kefu.ticket.opened" and opened["subject"] != ticket
    assert (opened["data"]["related_to"], opened["data"]["follow_up_of"]) == (ticket, None)
    assert received["subject"] == opened["subject"]
    seen = await intake.settle(1)
    assert not [e for e in seen if e["subject"] == ticket and e["type"] == "kefu.ticket.reopened"]


async def test_a_cc_is_known_and_so_is_whoever_replies_on_the_thread(intake) -> None:
    """Known (the default): the requester, the CCs of the ticket's messages, and senders who
    joined by the thread's headers may use the token."""
    first_id, cc, colleague = (
        f"<{unique()}@mail.example>",
        new_address("email"),
        new_address("email"),
    )
    opening = message_body("email", first_id, cc=[{"address": cc.upper(), "name": "Bob"}])
    ticket = await first_ticket(intake, opening)
    on_thread = message_body("email", unique("<r"), colleague, thread={"in_reply_to": first_id})
    await intake.send(on_thread)
    assert await intake.ticket_of(f"email:{on_thread['message_id']}") == ticket
    for sender in (cc, colleague):
        tokened = message_body("email", unique("m-"), sender, subject=f"[#{ticket}] more")
        await intake.send(tokened)
        assert await intake.ticket_of(f"email:{tokened['message_id']}") == ticket


@pytest.mark.parametrize(
    ("senders", "joins"), [("requester", (True, False)), ("anyone", (True, True))]
)
async def test_the_policy_says_whose_token_joins(backend, tmp_path, senders, joins) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(f"threading: {{token_senders: {senders}}}\n", encoding="utf-8")
    async with running_intake(backend, config=policy) as intake:
        cc = new_address("email")
        opening = message_body("email", unique("m-"), cc=[{"address": cc}])
        ticket = await first_ticket(intake, opening)
        for sender, joined in zip((opening["from"]["address"], cc), joins, strict=True):
            tokened = message_body("email", unique("m-"), sender, subject=f"[#{ticket}]")
            await intake.send(tokened)
            assert (await intake.ticket_of(f"email:{tokened['message_id']}") == ticket) is joined


async def test_an_unknown_reference_opens_a_new_ticket(intake: RunningIntake) -> None:
    body = message_body(
        "email", unique("m-"), thread={"in_reply_to": "<nobody@x>"}, subject="[#999999]"
    )
    await intake.send(body)
    opened = await intake.take(1, id=f"intake:email:{body['message_id']}:opened")
    assert opened[0]["data"]["follow_up_of"] is None


async def test_chat_joins_by_conversation(intake: RunningIntake) -> None:
    conversation = {"conversation_id": unique("conv-")}
    ticket = await first_ticket(
        intake, message_body("chat", unique("c-"), unique("v"), thread=conversation)
    )
    later = message_body("chat", unique("c-"), unique("v"), thread=conversation)
    await intake.send(later)
    assert await intake.ticket_of(f"chat:{later['message_id']}") == ticket


@pytest.mark.parametrize("channel", ["sms", "voice", "social"])
async def test_same_sender_within_the_window_joins(intake: RunningIntake, channel: str) -> None:
    address = new_address(channel)
    ticket = await first_ticket(intake, message_body(channel, unique("s-"), address))
    later = message_body(channel, unique("s-"), address)
    await intake.send(later)
    assert await intake.ticket_of(f"{channel}:{later['message_id']}") == ticket


async def test_same_sender_after_the_window_opens_a_new_ticket(intake: RunningIntake) -> None:
    address, now = new_address("sms"), datetime.now(UTC)
    early = message_body(
        "sms", unique("s-"), address, received_at=(now - timedelta(hours=25)).isoformat()
    )
    ticket = await first_ticket(intake, early)
    later = message_body("sms", unique("s-"), address, received_at=now.isoformat())
    await intake.send(later)
    assert await intake.ticket_of(f"sms:{later['message_id']}") != ticket


async def test_a_message_to_a_solved_ticket_reopens_it(intake: RunningIntake) -> None:
    address = new_address("sms")
    ticket = await first_ticket(intake, message_body("sms", unique("s-"), address))
    await intake.act(set_status(ticket, "solved"))
    await intake.take(1, type="kefu.ticket.status_changed", subject=ticket)
    later = message_body("sms", unique("s-"), address)
    await intake.send(later)
    reopened, received = await intake.take(2, correlationid=f"sms:{later['message_id']}")
    assert reopened["type"] == "kefu.ticket.reopened" and reopened["subject"] == ticket
    assert received["type"] == "kefu.ticket.message_received" and received["subject"] == ticket


async def test_a_message_to_a_closed_ticket_opens_a_follow_up(intake: RunningIntake) -> None:
    first_id = f"<{unique()}@mail.example>"
    ticket = await first_ticket(intake, message_body("email", first_id))
    await intake.act(set_status(ticket, "closed"))
    await intake.take(1, type="kefu.ticket.status_changed", subject=ticket)
    later = message_body("email", unique("m-"), thread={"in_reply_to": first_id})
    await intake.send(later)
    opened, received = await intake.take(2, correlationid=f"email:{later['message_id']}")
    assert opened["type"] == "kefu.ticket.opened" and opened["data"]["follow_up_of"] == ticket
    assert received["subject"] == opened["subject"] != ticket


async def test_a_customer_answer_takes_a_ticket_out_of_pending(intake: RunningIntake) -> None:
    conversation = {"conversation_id": unique("conv-")}
    ticket = await first_ticket(intake, message_body("chat", unique("c-"), thread=conversation))
    await intake.act(set_status(ticket, "pending"))
    await intake.take(1, type="kefu.ticket.status_changed", subject=ticket)
    later = message_body("chat", unique("c-"), thread=conversation)
    await intake.send(later)
    received, changed = await intake.take(2, correlationid=f"chat:{later['message_id']}")
    assert received["type"] == "kefu.ticket.message_received"
    assert (changed["data"]["from"], changed["data"]["to"], changed["data"]["by"]) == (
        "pending",
        "open",
        "system",
    )


async def test_a_chat_merged_away_goes_on_in_the_target(intake: RunningIntake) -> None:
    """The conversation's key still names the merged ticket; its next message joins the
    target, and the one after finds the target directly."""
    visitor, conversation = unique("v"), {"conversation_id": unique("conv-")}
    source = await first_ticket(
        intake, message_body("chat", unique("c-"), visitor, thread=conversation)
    )
    other = {"conversation_id": unique("conv-")}
    target = await first_ticket(intake, message_body("chat", unique("c-"), visitor, thread=other))
    merge = {
        "action": "merge",
        "agent_id": "agent-1",
        "command_id": unique("cmd-"),
        "ticket_id": source,
        "into_ticket_id": target,
    }
    await intake.act(merge)
    await intake.take(2, correlationid=merge["command_id"])
    for _ in range(2):
        later = message_body("chat", unique("c-"), visitor, thread=conversation)
        await intake.send(later)
        assert await intake.ticket_of(f"chat:{later['message_id']}") == target

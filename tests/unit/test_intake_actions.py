"""Agent actions against the ticket's state: the event each becomes, or why it is refused."""

import json
from datetime import timedelta

import pytest
from pydantic import TypeAdapter

from kefu.services.intake.actions import (
    CommandRejected,
    InvalidCommand,
    decide_command,
    decode_command,
)
from kefu.services.intake.conversation import Conversation
from kefu.shared.inbound import AgentCommand
from tests.factories import NOW, conversation

COMMAND = TypeAdapter(AgentCommand)


def ticket(status="open", **fields) -> Conversation:
    return conversation(status=status, updated_at=NOW - timedelta(hours=1), **fields)


def command(action, **fields):
    return COMMAND.validate_python(
        {"action": action, "agent_id": "a-1", "command_id": "cmd-1", "ticket_id": "1001", **fields}
    )


@pytest.mark.parametrize(
    ("action", "fields", "event_type", "check"),
    [
        (
            "reply",
            {"text": "On its way"},
            "kefu.ticket.agent_replied",
            {"public": True, "text": "On its way"},
        ),
        ("reply", {"text": "x", "public": False}, "kefu.ticket.agent_replied", {"public": False}),
        ("note", {"text": "called them"}, "kefu.ticket.note_added", {"text": "called them"}),
        (
            "set_status",
            {"status": "pending"},
            "kefu.ticket.status_changed",
            {"from_status": "open", "to": "pending", "by": "a-1"},
        ),
        (
            "set_priority",
            {"priority": "P1"},
            "kefu.ticket.priority_changed",
            {"from_priority": "P3", "to": "P1"},
        ),
        (
            "transfer",
            {"to_skill": "billing", "reason": "refund"},
            "kefu.ticket.transfer_requested",
            {"from_agent_id": None, "by": "a-1", "to_skill": "billing"},
        ),
        (
            "escalate",
            {"reason": "needs a specialist"},
            "kefu.ticket.escalated",
            {"from_tier": 1, "to_tier": 2},
        ),
    ],
)
def test_each_action_becomes_its_event(action, fields, event_type, check) -> None:
    events, changed = decide_command(command(action, **fields), ticket(), NOW)
    [event] = events
    assert event.type == event_type and event.id == "intake:agent:cmd-1"
    assert event.correlationid == "cmd-1" and event.data.ticket_id == "1001"
    for field, value in check.items():
        assert getattr(event.data, field) == value
    assert changed.updated_at == NOW


def test_state_follows_the_actions() -> None:
    assert (
        decide_command(command("set_status", status="solved"), ticket(), NOW)[1].status == "solved"
    )
    assert decide_command(command("set_priority", priority="P2"), ticket(), NOW)[1].priority == "P2"
    assert decide_command(command("escalate"), ticket(tier=2), NOW)[1].tier == 3


@pytest.mark.parametrize(
    ("action", "fields"),
    [
        ("reply", {"text": "x"}),
        ("note", {"text": "x"}),
        ("set_status", {"status": "pending"}),
        ("set_status", {"status": "open"}),
        ("set_priority", {"priority": "P1"}),
        ("transfer", {"to_agent_id": "a-2"}),
        ("escalate", {}),
    ],
)
def test_a_closed_ticket_takes_no_action(action, fields) -> None:
    with pytest.raises(CommandRejected, match="ticket 1001 is closed"):
        decide_command(command(action, **fields), ticket("closed"), NOW)


@pytest.mark.parametrize(("action", "fields"), [("transfer", {"to_skill": "x"}), ("escalate", {})])
def test_a_solved_ticket_is_not_transferred_or_escalated(action, fields) -> None:
    with pytest.raises(CommandRejected, match="is solved"):
        decide_command(command(action, **fields), ticket("solved"), NOW)


def test_a_solved_ticket_can_be_replied_to_reopened_or_closed() -> None:
    assert decide_command(command("reply", text="x"), ticket("solved"), NOW)[0]
    assert (
        decide_command(command("set_status", status="open"), ticket("solved"), NOW)[1].status
        == "open"
    )
    assert (
        decide_command(command("set_status", status="closed"), ticket("solved"), NOW)[1].status
        == "closed"
    )


def test_tier_three_is_the_highest() -> None:
    with pytest.raises(CommandRejected, match="already at tier 3"):
        decide_command(command("escalate"), ticket(tier=3), NOW)


@pytest.mark.parametrize(
    ("action", "fields"), [("set_status", {"status": "open"}), ("set_priority", {"priority": "P3"})]
)
def test_setting_what_is_already_so_changes_nothing(action, fields) -> None:
    original = ticket()
    assert decide_command(command(action, **fields), original, NOW) == ([], original)


@pytest.mark.parametrize(
    ("agent_id", "public", "assignee", "on_behalf"),
    [
        ("a-1", True, "a-1", None),  # the assignee
        ("a-2", True, "a-1", "a-1"),  # a colleague covers: recorded for supervisors
        ("a-2", False, "a-1", None),  # internal: nothing the customer sees
        ("a-2", True, None, None),  # nobody owns the ticket yet
    ],
)
def test_a_public_reply_from_another_agent_is_on_behalf_of_the_assignee(
    agent_id, public, assignee, on_behalf
) -> None:
    reply = command("reply", text="x", public=public).model_copy(update={"agent_id": agent_id})
    [event], _ = decide_command(reply, ticket(assignee=assignee), NOW)
    assert event.data.agent_id == agent_id and event.data.on_behalf == on_behalf


def test_a_transfer_moves_the_ticket_from_its_assignee_whoever_asks() -> None:
    asked = command("transfer", to_agent_id="a-3").model_copy(update={"agent_id": "lead-1"})
    [event], _ = decide_command(asked, ticket(assignee="a-2"), NOW)
    assert (event.data.from_agent_id, event.data.by, event.data.to_agent_id) == (
        "a-2",
        "lead-1",
        "a-3",
    )


def test_an_invalid_command_that_says_whose_it_is_is_refused_to_its_agent() -> None:
    raw = b'{"action": "reply", "agent_id": "a-1", "command_id": "c-9", "ticket_id": "1001"}'
    refused = decode_command(raw)
    assert isinstance(refused, InvalidCommand)
    assert (refused.agent_id, refused.command_id, refused.action, refused.ticket_id) == (
        "a-1",
        "c-9",
        "reply",
        "1001",
    )
    assert refused.reason == "invalid payload: reply.text: Field required"


@pytest.mark.parametrize(
    "raw",
    [
        b'{"action": "reply", "ticket_id": "1001", "text": "x"}',  # whose?
        b'{"action": "reply", "agent_id": "a-1", "command_id": 7}',
        b"[1, 2]",
    ],
)
def test_an_invalid_command_without_its_agent_and_id_only_fails(raw) -> None:
    with pytest.raises(ValueError):
        decode_command(raw)


GENERAL = ("general", "inquiry", "other")


def test_set_category_becomes_category_changed_and_is_kept() -> None:
    recategorise = command("set_category", category=["billing", "payment", "退款"])
    [event], after = decide_command(recategorise, ticket(category=GENERAL), NOW)
    assert (event.type, event.id, event.correlationid) == (
        "kefu.ticket.category_changed",
        "intake:agent:cmd-1",
        "cmd-1",
    )
    assert event.data.model_dump(mode="json") == {
        "ticket_id": "1001",
        "from": list(GENERAL),
        "to": ["billing", "payment", "退款"],
        "agent_id": "a-1",
        "at": "2026-11-23T10:00:00.000Z",
    }
    assert after.category == ("billing", "payment", "退款")


def test_any_three_levels_even_off_the_policy_and_on_a_solved_ticket() -> None:
    [event], _ = decide_command(
        command("set_category", category=[" made ", "up", "x" * 64]), ticket("solved"), NOW
    )
    assert event.data.to == ["made", "up", "x" * 64]


def test_the_same_category_again_changes_nothing() -> None:
    original = ticket(category=GENERAL)
    assert decide_command(command("set_category", category=list(GENERAL)), original, NOW) == (
        [],
        original,
    )


def test_a_ticket_opened_before_intake_kept_categories_changes_from_null() -> None:
    [event], _ = decide_command(command("set_category", category=["a", "b", "c"]), ticket(), NOW)
    assert event.data.from_category is None


def test_a_closed_ticket_takes_no_category() -> None:
    with pytest.raises(CommandRejected, match="ticket 1001 is closed; set_category"):
        decide_command(command("set_category", category=["a", "b", "c"]), ticket("closed"), NOW)


@pytest.mark.parametrize(
    "category",
    [
        ["billing", "payment"],  # three levels
        ["billing", "payment", "refund", "more"],
        ["billing", "", "refund"],  # none empty
        ["billing", "   ", "refund"],  # nor blank
        ["billing", "x" * 65, "refund"],  # at most 64 characters
        ["billing", 7, "refund"],
        "billing/payment/refund",
    ],
)
def test_a_category_is_three_non_empty_levels(category) -> None:
    raw = json.dumps(
        {
            "action": "set_category",
            "agent_id": "a-1",
            "command_id": "c-1",
            "ticket_id": "1001",
            "category": category,
        }
    ).encode()
    refused = decode_command(raw)
    assert isinstance(refused, InvalidCommand) and "set_category.category" in refused.reason


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"ticket_id": "1001"}, "merge.into_ticket_id"),
        ({"ticket_id": "1001", "into_ticket_id": ""}, "merge.into_ticket_id"),
        ({"into_ticket_id": "1002"}, "merge.ticket_id"),
    ],
)
def test_a_merge_names_both_tickets(body, field) -> None:
    raw = json.dumps({"action": "merge", "agent_id": "a-1", "command_id": "c-1", **body})
    refused = decode_command(raw.encode())
    assert isinstance(refused, InvalidCommand) and field in refused.reason

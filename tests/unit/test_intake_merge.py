"""The merge rule (contract 8): both open, not the same ticket, the same customer's or linked
by related_to; and what a merge becomes."""

import pytest
from pydantic import TypeAdapter

from kefu.services.intake.actions import CommandRejected, decide_command
from kefu.services.intake.merging import merge_refusal
from kefu.shared.inbound import AgentCommand
from tests.factories import NOW, conversation

COMMAND = TypeAdapter(AgentCommand)
JANE = {"channel": "email", "customer_address": "jane@example.com"}


def ticket(number: int, status: str = "open", **fields):
    return conversation(number, **{"status": status, **JANE, **fields})


def merge(into: str = "1002", source: str = "1001"):
    return COMMAND.validate_python(
        {
            "action": "merge",
            "agent_id": "a-1",
            "command_id": "cmd-m",
            "ticket_id": source,
            "into_ticket_id": into,
        }
    )


@pytest.mark.parametrize(
    ("source", "target", "allowed"),
    [
        ({}, {}, True),  # the same requester on the same channel
        ({}, {"customer_address": "JANE@Example.COM"}, True),  # in any case
        ({"status": "new"}, {"status": "pending"}, True),  # anything not solved or closed
        ({"status": "on_hold"}, {"status": "on_hold"}, True),
        ({}, {"customer_address": "bob@example.com"}, False),  # another customer
        ({}, {"channel": "webform"}, False),  # the same address on another channel
        (
            {"customer_id": "c-7"},
            {"channel": "sms", "customer_address": "+8613800138000", "customer_id": "c-7"},
            True,  # the same customer id, whatever the channel
        ),
        ({"customer_id": "c-7"}, {"customer_address": "bob@x.cn", "customer_id": "c-8"}, False),
        ({"related_to": "1002"}, {"customer_address": "bob@example.com"}, True),
        ({}, {"customer_address": "bob@example.com", "related_to": "1001"}, True),
        ({"related_to": "1003"}, {"customer_address": "bob@example.com"}, False),
    ],
)
def test_the_same_customer_or_a_related_ticket(source, target, allowed) -> None:
    refusal = merge_refusal(ticket(1001, **source), ticket(1002, **target), "1002")
    assert (refusal is None) is allowed, refusal
    if not allowed:
        assert "not the same customer's" in refusal


@pytest.mark.parametrize(
    ("source", "target", "into", "reason"),
    [
        ("solved", "open", "1002", "ticket 1001 is solved"),
        ("open", "solved", "1002", "ticket 1002 is solved"),
        ("open", "closed", "1002", "ticket 1002 is closed"),
        ("open", None, "1002", "ticket 1002 does not exist"),
        ("open", "open", "1001", "cannot be merged into itself"),
    ],
)
def test_what_is_refused(source, target, into, reason) -> None:
    found = ticket(int(into), target) if target else None
    with pytest.raises(CommandRejected, match=reason):
        decide_command(merge(into), ticket(1001, source), NOW, found)


def test_a_closed_source_is_refused_like_any_command() -> None:
    with pytest.raises(CommandRejected, match="ticket 1001 is closed"):
        decide_command(merge(), ticket(1001, "closed"), NOW, ticket(1002))


def test_a_merge_is_merged_then_closed_with_the_reason() -> None:
    merged, closed = decide_command(merge(), ticket(1001, "pending"), NOW, ticket(1002))[0]
    assert (merged.type, merged.id, merged.correlationid) == (
        "kefu.ticket.merged",
        "intake:agent:cmd-m",
        "cmd-m",
    )
    assert (merged.data.ticket_id, merged.data.into_ticket_id, merged.data.agent_id) == (
        "1001",
        "1002",
        "a-1",
    )
    assert (closed.type, closed.id, closed.subject) == (
        "kefu.ticket.status_changed",
        "intake:agent:cmd-m:closed",
        "1001",
    )
    data = closed.data
    assert (data.from_status, data.to, data.by, data.reason) == (
        "pending",
        "closed",
        "a-1",
        "merged",
    )


def test_the_source_is_closed_and_names_its_target() -> None:
    _, after = decide_command(merge(), ticket(1001), NOW, ticket(1002))
    assert (after.status, after.merged_into, after.updated_at) == ("closed", "1002", NOW)


def test_a_merge_decided_again_is_the_same() -> None:
    once = decide_command(merge(), ticket(1001), NOW, ticket(1002))[0]
    again = decide_command(merge(), ticket(1001), NOW, ticket(1002))[0]
    assert [e.to_bytes() for e in once] == [e.to_bytes() for e in again]

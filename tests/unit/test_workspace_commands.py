"""Actions sent through the workspace: what a body may be, and what settles a command."""

from datetime import timedelta

import pytest

from kefu.services.workspace.commands import (
    ActionRefused,
    changes_nothing,
    outcome_of,
    ticket_command,
)
from kefu.services.workspace.record import TicketSummary
from kefu.shared.events.agent import AgentCommandRefused
from kefu.shared.inbound import MergeCommand, ReplyCommand, SetCategoryCommand
from tests import sla_events as ev
from tests.factories import NOW


def command(body: dict, ticket: str = "1001"):
    return ticket_command(body, "ann", ticket, "ws-made")


def refused_fields(body: dict, ticket: str = "1001") -> list[tuple]:
    with pytest.raises(ActionRefused) as refused:
        command(body, ticket)
    return [problem["loc"] for problem in refused.value.problems]


def test_a_body_becomes_the_persons_command_on_the_paths_ticket() -> None:
    reply = command({"action": "reply", "text": "It ships today"})
    assert reply == ReplyCommand(
        action="reply",
        agent_id="ann",
        command_id="ws-made",
        ticket_id="1001",
        text="It ships today",
    )
    assert command({"action": "note", "text": "x", "command_id": "mine-1"}).command_id == "mine-1"
    assert command({"action": "note", "text": "x", "ticket_id": "1001"}).ticket_id == "1001"
    merge = command({"action": "merge", "into_ticket_id": "1002"})
    category = command({"action": "set_category", "category": [" a ", "b", "c"]})
    assert isinstance(merge, MergeCommand) and isinstance(category, SetCategoryCommand)
    assert category.category == ["a", "b", "c"]


def test_a_body_may_not_name_an_agent_or_another_ticket() -> None:
    assert refused_fields({"action": "note", "text": "x", "agent_id": "ann"}) == [("agent_id",)]
    assert refused_fields({"action": "note", "text": "x", "ticket_id": "9"}) == [("ticket_id",)]


def test_an_invalid_command_names_its_fields() -> None:
    assert refused_fields({"action": "set_priority", "priority": "P9"}) == [
        ("set_priority", "priority")
    ]
    assert refused_fields({"action": "presence", "status": "online", "capacity": 1}) == [()]
    assert refused_fields({"action": "reply"}) == [("reply", "text")]
    assert refused_fields({"action": "transfer"}) == [("transfer",)]
    assert refused_fields({"action": "note", "text": "x", "colour": "red"}) == [("note", "colour")]
    assert refused_fields({"action": "note", "text": "x"}, ticket="x" * 65) == [
        ("note", "ticket_id")
    ]


def test_setting_what_the_ticket_already_has_changes_nothing_unless_it_is_closed() -> None:
    ticket = TicketSummary(
        ticket_id="1001", status="pending", priority="P2", category=["a", "b", "c"]
    )
    same = [
        command({"action": "set_status", "status": "pending"}),
        command({"action": "set_priority", "priority": "P2"}),
        command({"action": "set_category", "category": ["a", "b", "c"]}),
    ]
    assert all(changes_nothing(one, ticket) for one in same)
    assert not changes_nothing(command({"action": "set_status", "status": "open"}), ticket)
    assert not changes_nothing(command({"action": "reply", "text": "x"}), ticket)
    closed = ticket.model_copy(update={"status": "closed"})
    assert not changes_nothing(command({"action": "set_priority", "priority": "P2"}), closed)
    assert not changes_nothing(same[0], None)


def test_an_agents_ticket_event_applies_its_command_and_a_refusal_refuses_it() -> None:
    replied = ev.replied("1001", NOW)
    assert outcome_of(replied) == (replied.correlationid, "applied", None)
    assert outcome_of(ev.status("1001", "open", "closed", NOW, reason="merged"))[1] == "applied"
    refused = AgentCommandRefused(
        agent_id="ann", command_id="c-1", action="reply", ticket_id="1001", reason="closed", at=NOW
    )
    assert outcome_of(ev.event(refused, NOW)) == ("c-1", "refused", "closed")


def test_events_no_agent_made_settle_nothing() -> None:
    later = NOW + timedelta(minutes=1)
    for event in (
        ev.opened("1001", NOW),
        ev.customer_wrote("1001", later),
        ev.reopened("1001", later),  # by the customer
        ev.assigned("1001", "ann", later),  # by the router
    ):
        assert outcome_of(event) is None

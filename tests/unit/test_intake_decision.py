"""Intake's round (services/intake/decision.py) with plain values: no store, no broker; the
ticket numbers are the ones reserved before the round."""

import json
from datetime import UTC, datetime
from typing import Any

from aiokafka import ConsumerRecord

from kefu.services.intake.conversation import message_ref, thread_keys
from kefu.services.intake.decision import Round
from kefu.shared.consumer import Input
from kefu.shared.decisions import Slot
from kefu.shared.inbound import ChannelMessage, decode_agent_command
from kefu.shared.policy import Policy
from kefu.shared.settings import load_settings

NOW = datetime(2026, 12, 3, 9, tzinfo=UTC)
PRESENCE = {"action": "presence", "agent_id": "li", "status": "online", "capacity": 3}


def record(offset: int) -> ConsumerRecord:
    return ConsumerRecord(
        "kefu.agent.inbound", 0, offset, 1_764_752_400_000, 0, b"a", b"{}", None, 1, 2, ()
    )


def message(message_id: str, **fields: Any) -> Input[ChannelMessage]:
    raw = {"channel": "chat", "message_id": message_id, "from": {"address": "wang"}, "text": "你好"}
    raw.setdefault("thread", {"conversation_id": "c1"})
    return Input(record(0), ChannelMessage.model_validate({**raw, **fields}))


def a_round(inputs: list[Input[Any]], index: dict[str, str] | None = None, **known: Any) -> Round:
    keys_of = {
        id(one): thread_keys(one.value) for one in inputs if isinstance(one.value, ChannelMessage)
    }
    return Round(
        policy=Policy(),
        settings=load_settings(),
        now=NOW,
        index=dict(index or {}),
        known=dict(index or {}),
        tickets=known.get("tickets", {}),
        agents=known.get("agents", {}),
        openers={},
        numbers=iter(["1001", "1002", "1003"]),
        keys_of=keys_of,
    )


def test_a_message_opens_a_ticket_with_the_first_reserved_number_and_a_reply_joins_it() -> None:
    first, second = message("m1"), message("m2", text="还在吗？")
    decided = a_round([first, second])
    decided.decide(first)
    decided.decide(second)
    assert decided.ticket_of == {id(first): "1001", id(second): "1001"}
    slot = decided.tickets["1001"]
    kinds = [event.type for event in slot.unpublished()]
    assert kinds == [
        "kefu.ticket.opened",
        "kefu.ticket.message_received",
        "kefu.ticket.message_received",
    ]
    assert decided.pointers[id(first)][message_ref("chat", "m1")] == "1001"
    assert decided.index["conversation:chat:c1"] == "1001"


def test_two_conversations_take_two_numbers_in_order() -> None:
    first, other = message("m1"), message("m2", thread={"conversation_id": "c2"})
    decided = a_round([first, other])
    decided.decide(first)
    decided.decide(other)
    assert [decided.ticket_of[id(first)], decided.ticket_of[id(other)]] == ["1001", "1002"]


def test_a_message_handled_before_decides_nothing_new() -> None:
    again = message("m1")
    decided = a_round([again], index={message_ref("chat", "m1"): "1001"})
    decided.decide(again)
    assert decided.ticket_of[id(again)] == "1001" and decided.tickets == {}


def test_a_command_on_an_unknown_ticket_is_refused_and_the_agent_is_told() -> None:
    reply = {"action": "reply", "agent_id": "li", "command_id": "c9", "ticket_id": "4040"}
    command = decode_agent_command(json.dumps({**reply, "text": "hi"}).encode())
    one = Input(record(3), command)
    decided = a_round([one])
    decided.decide(one)
    [refused] = decided.refused
    assert refused.reason == "ticket 4040 does not exist"
    assert decided.refusals[id(one)].type == "kefu.agent.command_refused"


def test_presence_without_a_command_id_is_named_by_its_place_in_the_topic() -> None:
    one = Input(
        record(42),
        decode_agent_command(json.dumps(PRESENCE).encode()),
    )
    decided = a_round([one], agents={"li": Slot("li")})
    decided.decide(one)
    slot = decided.agents["li"]
    assert slot.has_applied("presence:kefu.agent.inbound:0:42")
    [event] = slot.unpublished()
    assert event.data.status == "online" and event.time == datetime.fromtimestamp(
        1_764_752_400, UTC
    )

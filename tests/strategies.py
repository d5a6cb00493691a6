"""Hypothesis strategies for inbound payloads: any bytes, any JSON, and valid payloads
with a few fields removed or replaced by arbitrary JSON (which reach the validators)."""

import json
from typing import Any

from hypothesis import strategies as st
from pydantic import ValidationError

from tests.factories import ADDRESSES, message_body

# what a decoder raises for input that can only go to the DLQ
REFUSED = (ValidationError, UnicodeDecodeError, json.JSONDecodeError)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
FIELDS = [
    "channel",
    "message_id",
    "from",
    "text",
    "received_at",
    "customer_id",
    "customer_tier",
    "subject",
    "thread",
    "locale",
    "attachments",
    "meta",
]
AGENT_FIELDS = [
    "action",
    "agent_id",
    "command_id",
    "ticket_id",
    "status",
    "skills",
    "capacity",
    "tier",
    "text",
    "public",
    "priority",
    "to_agent_id",
    "to_skill",
    "reason",
]


@st.composite
def mutated_messages(draw: Any) -> bytes:
    body = message_body(draw(st.sampled_from(sorted(ADDRESSES))))
    for field in draw(st.lists(st.sampled_from(FIELDS), max_size=3)):
        if draw(st.booleans()):
            body.pop(field, None)
        else:
            body[field] = draw(json_values | st.fixed_dictionaries({"address": json_values}))
    return json.dumps(body).encode()


@st.composite
def mutated_commands(draw: Any) -> bytes:
    body: dict[str, Any] = {
        "action": draw(
            st.sampled_from(
                [
                    "presence",
                    "reply",
                    "note",
                    "set_status",
                    "set_priority",
                    "transfer",
                    "escalate",
                    "x",
                ]
            )
        ),
        "agent_id": "a-1",
        "command_id": "c-1",
        "ticket_id": "1001",
        "status": "online",
        "capacity": 2,
        "text": "hi",
        "priority": "P2",
        "to_skill": "billing",
    }
    for field in draw(st.lists(st.sampled_from(AGENT_FIELDS), max_size=3)):
        body[field] = draw(json_values)
    return json.dumps(body).encode()


raw_inputs = st.binary(max_size=300) | json_values.map(lambda value: json.dumps(value).encode())

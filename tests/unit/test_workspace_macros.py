"""Macros (services/workspace/macros.py): the template's values, the sandbox, the bounds,
and the actions checked as section 2.2 commands."""

import time

import pytest
from pydantic import ValidationError

from kefu.services.workspace.macros import (
    MOST_OUTPUT,
    RENDER_S,
    Macro,
    MacroRefused,
    check,
    context,
    render,
)

VALUES = context(
    {
        "id": "T-9",
        "subject": "退款",
        "status": "open",
        "priority": "P2",
        "category": ["a", "b", "c"],
    },
    {"name": "王先生", "address": "wang@example.com"},
    {"id": "li", "name": "Li Lei"},
)


def test_a_template_sees_the_ticket_the_customer_and_the_agent() -> None:
    text = (
        "{{ customer.name }}您好，工单 {{ ticket.id }}（{{ ticket.subject }}，{{ ticket.status }}，"
        "{{ ticket.priority }}，{{ ticket.category }}）由 {{ agent.name }} 处理。"
    )
    assert (
        render(text, VALUES) == "王先生您好，工单 T-9（退款，open，P2，a / b / c）由 Li Lei 处理。"
    )


def test_unknown_values_are_empty_and_defaults_work() -> None:
    values = context({"id": "T-1"}, {}, {"id": "li", "name": "Li"})
    assert render("Dear {{ customer.name or 'customer' }},{{ ticket.subject }}", values) == (
        "Dear customer,"
    )
    assert render("{{ nothing | default('-') }} {{ agent.id | upper }}", values) == "- LI"


def test_plain_text_is_not_escaped() -> None:
    values = context({"id": "T-1", "subject": "<b> & 'x'"}, {}, {})
    assert render("{{ ticket.subject }}", values) == "<b> & 'x'"


@pytest.mark.parametrize(
    "text",
    [
        "{{ ''.__class__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ ticket.__class__ }}",
        "{{ ticket['__class__'] }}",
        "{{ self._TemplateReference__context }}",
        "{{ [].append(1) }}",
        "{{ cycler }}{{ namespace }}{{ lipsum() }}",
        "{{ tiket.id }}",  # a typo: StrictUndefined
        "{% include 'x' %}",
        "{% if %}",
    ],
)
def test_what_the_sandbox_forbids_or_does_not_compile_is_refused(text: str) -> None:
    with pytest.raises(MacroRefused):
        check(text)
    with pytest.raises(ValidationError) as refused:
        Macro(title="t", text=text)
    assert refused.value.errors()[0]["loc"] == ("text",)


@pytest.mark.parametrize(
    "text",
    [
        "{% for i in range(10**9) %}x{% endfor %}",  # the sandbox's MAX_RANGE
        "{% for i in range(100000) %}x{% endfor %}",  # the output cap
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
        "{{ 'x' * 10**9 }}",
        "{{ [1] * 10**9 }}",
        "{{ (10**20) ** 64 }}",
        "{{ '%999999999s' % 'x' }}",
        "{{ 'x'.center(10**9) }}",
        "{{ 'x'.ljust(10**9) }}",
        "{{ 'abc'.replace('', 'x') }}",
        "{{ ''.join(['a']) }}",
        "{{ '{:>999999999}'.format('x') }}",
        "{{ ticket.id ~ ticket.id }}",
        "{% set a = 'x' * 20000 %}{{ a + a }}",
        "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}",
    ],
)
def test_rendering_is_bounded_in_time_and_size(text: str) -> None:
    started = time.monotonic()
    with pytest.raises(MacroRefused):
        render(text, VALUES)
    assert time.monotonic() - started < RENDER_S + 1


def test_within_the_bounds_loops_and_arithmetic_work() -> None:
    assert render("{% for i in range(3) %}{{ i }}{% endfor %}", VALUES) == "012"
    assert render("{{ 'ab' * 2 }} {{ 2 ** 10 }} {{ 'a' + 'b' }}", VALUES) == "abab 1024 ab"
    assert len(render(f"{{{{ 'x' * {MOST_OUTPUT} }}}}", VALUES)) == MOST_OUTPUT


def test_actions_are_section_2_2_commands_without_ticket_agent_or_command_id() -> None:
    macro = Macro(
        title="退款",
        text="x",
        actions=[
            {"action": "set_status", "status": "pending"},
            {"action": "note", "text": "refund asked"},
            {"action": "transfer", "to_skill": "billing"},
        ],
    )
    assert [a["action"] for a in macro.actions] == ["set_status", "note", "transfer"]
    for bad, says in [
        ({"action": "set_status", "status": "bogus"}, "status"),
        ({"action": "set_status", "status": "open", "ticket_id": "1"}, "ticket_id"),
        ({"action": "note", "text": "x", "agent_id": "a"}, "agent_id"),
        ({"action": "note", "text": "x", "command_id": "c"}, "command_id"),
        ({"action": "merge", "into_ticket_id": "2"}, "merge"),
        ({"action": "presence", "status": "online"}, "action"),
        ({"action": "transfer"}, "to_agent_id"),
    ]:
        with pytest.raises(ValidationError) as refused:
            Macro(title="t", text="x", actions=[bad])
        problem = refused.value.errors()[0]
        assert problem["loc"] == ("actions",) and says in problem["msg"], problem


def test_a_macro_has_bounds_on_its_fields() -> None:
    for bad in (
        {"title": ""},
        {"text": "x" * 10_001},
        {"locale": "fr"},
        {"id": "has space"},
        {"actions": [{"action": "escalate"}] * 11},
        {"extra": 1},
    ):
        with pytest.raises(ValidationError):
            Macro.model_validate({"title": "t", "text": "x", **bad})

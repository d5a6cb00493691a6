"""Macros (contract 8): a saved reply and the actions that go with it. Pure.

A macro's `text` is a Jinja2 template rendered in an `ImmutableSandboxedEnvironment` with
`ticket` (id, subject, status, priority, category), `customer` (name, address) and `agent`
(id, name); unknown values are "". Autoescape is off: the result is a plain-text reply,
not HTML. Undefined names are errors (`StrictUndefined`), so a typo is refused when the macro
is saved instead of leaving a hole in a reply to a customer.

Bounds, since a template is code: a text of at most 10,000 characters; no `~` (each `~`
could double a string; write values side by side or use `+`); `+`, `*`, `**` and `%`
checked for size; only the filters and string methods that cannot blow up a string;
no `namespace`, `cycler`, `joiner`, `lipsum` or `dict`; loops stop when the render has run
`RENDER_S` seconds (a trace on the template's own frames) and output stops at `MOST_OUTPUT`
characters. `check` runs a template on sample values when it is saved: what does not compile,
names an unknown variable or touches what the sandbox forbids (`''.__class__`) is refused
then, and again if it gets that far when it is applied.
"""

import sys
import time
from types import FrameType
from typing import Any

from jinja2 import StrictUndefined, TemplateError, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from kefu.services.workspace.commands import ActionRefused, ticket_command
from kefu.services.workspace.people import Locale
from kefu.shared.identifiers import Identifier

MOST_TEXT, MOST_OUTPUT, MOST_ACTIONS, RENDER_S = 10_000, 20_000, 10, 0.5
FILTERS = [
    "abs",
    "capitalize",
    "count",
    "d",
    "default",
    "first",
    "float",
    "int",
    "last",
    "length",
    "lower",
    "round",
    "string",
    "title",
    "trim",
    "truncate",
    "upper",
    "wordcount",
]
GROWING = {"center", "expandtabs", "format", "format_map", "join", "ljust", "replace", "rjust"}
GIVEN_WHEN_APPLIED = ("ticket_id", "agent_id", "command_id")


class MacroRefused(Exception):
    """A template that may not be saved or rendered; `args[0]` says why."""


class Macro(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Identifier | None = Field(None, description="given, or made when it is added")
    title: str = Field(min_length=1, max_length=200)
    locale: Locale = "en"
    text: str = Field(max_length=MOST_TEXT, description="a sandboxed Jinja2 template")
    actions: list[dict[str, Any]] = Field(default_factory=list, max_length=MOST_ACTIONS)

    @field_validator("text")
    @classmethod
    def _renders(cls, text: str, info: ValidationInfo) -> str:
        if (info.context or {}).get("stored"):  # checked when saved, and again when rendered
            return text
        try:
            check(text)
        except MacroRefused as refused:
            raise ValueError(refused.args[0]) from None
        return text

    @field_validator("actions")
    @classmethod
    def _are_actions(cls, actions: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for index, action in enumerate(actions):
            if given := [name for name in GIVEN_WHEN_APPLIED if name in action]:
                raise ValueError(f"{index}: {', '.join(given)} is given when it is applied")
            if action.get("action") == "merge":
                raise ValueError(f"{index}: a macro does not merge tickets")
            try:
                ticket_command(action, "agent", "ticket", "command")
            except ActionRefused as refused:
                raise ValueError(f"{index}: {_problems(refused)}") from None
        return actions


def context(ticket: dict[str, Any], customer: dict[str, Any], agent: dict[str, Any]) -> Any:
    """The values a template sees, every one a string ("" when unknown)."""
    shapes = {
        "ticket": ("id", "subject", "status", "priority", "category"),
        "customer": ("name", "address"),
        "agent": ("id", "name"),
    }
    given = {"ticket": ticket, "customer": customer, "agent": agent}
    return {
        name: {key: _shown(given[name].get(key)) for key in keys} for name, keys in shapes.items()
    }


def check(text: str) -> None:
    """Refuse a template that does not compile or does not render on sample values."""
    render(text, SAMPLE)


def render(text: str, values: dict[str, Any]) -> str:
    """The rendered text, within the bounds; MacroRefused when it cannot be."""
    try:
        tree = _ENV.parse(text)
        template = _ENV.from_string(tree)
    except TemplateError as error:
        raise MacroRefused(f"the template does not compile: {error}") from None
    if next(tree.find_all(nodes.Concat), None) is not None:
        raise MacroRefused("~ is not allowed: write {{ a }}{{ b }}, or a + b")
    pieces: list[str] = []
    size, previous = 0, sys.gettrace()
    sys.settrace(_stopping_at(time.monotonic() + RENDER_S))
    try:
        for piece in template.generate(**values):
            size += len(piece)
            if size > MOST_OUTPUT:
                raise MacroRefused(f"the text is longer than {MOST_OUTPUT} characters")
            pieces.append(piece)
    except (TemplateError, SecurityError, ArithmeticError, TypeError, ValueError) as error:
        raise MacroRefused(f"the template cannot be rendered: {error}") from None
    except RecursionError:
        raise MacroRefused("the template calls itself too deeply") from None
    finally:
        sys.settrace(previous)
    return "".join(pieces)


class _Sandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"+", "*", "**", "%"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "%" and isinstance(left, str):
            raise SecurityError("% formatting is not allowed")
        if operator == "**" and (abs(right) > 64 or abs(left) > 2**64):
            raise SecurityError("** takes numbers up to 2**64 and exponents up to 64")
        if operator == "*" and (_too_long(left, right) or _too_long(right, left)):
            raise SecurityError(f"* makes more than {MOST_OUTPUT} items")
        if (
            operator == "+"
            and _sized(left)
            and _sized(right)
            and (len(left) + len(right) > MOST_OUTPUT)
        ):
            raise SecurityError(f"+ makes more than {MOST_OUTPUT} items")
        return super().call_binop(context, operator, left, right)

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if isinstance(obj, str) and attr in GROWING:
            return False
        return super().is_safe_attribute(obj, attr, value)

    def wrap_str_format(self, value: Any) -> None:
        """`format` and `format_map` are refused like the other growing methods: the
        sandbox's own wrapper would still pad a string to any width (a `{:>999999999}`)."""
        return None


def _environment() -> _Sandbox:
    env = _Sandbox(autoescape=False, undefined=StrictUndefined, keep_trailing_newline=True)
    env.filters = {name: env.filters[name] for name in FILTERS}
    env.globals = {"range": env.globals["range"]}
    return env


_ENV = _environment()


def _stopping_at(deadline: float) -> Any:
    """A trace that stops the template's own code (its frames are `<template>`) past the
    deadline: a loop inside a loop cannot hold the service."""

    def each_line(frame: FrameType, event: str, arg: Any) -> Any:
        if time.monotonic() > deadline:
            raise MacroRefused(f"the template ran longer than {RENDER_S} s")
        return each_line

    def each_call(frame: FrameType, event: str, arg: Any) -> Any:
        return each_line if frame.f_code.co_filename == "<template>" else None

    return each_call


def _sized(value: Any) -> bool:
    return isinstance(value, str | list | tuple)


def _too_long(sized: Any, times: Any) -> bool:
    return _sized(sized) and isinstance(times, int) and len(sized) * times > MOST_OUTPUT


def _shown(value: Any) -> str:
    if value is None:
        return ""
    return " / ".join(map(str, value)) if isinstance(value, list | tuple) else str(value)


def _problems(refused: ActionRefused) -> str:
    return "; ".join(
        f"{'.'.join(map(str, problem['loc'])) or 'action'}: {problem['msg']}"
        for problem in refused.problems
    )


SAMPLE = context(
    {"id": "T-1", "subject": "s", "status": "open", "priority": "P3", "category": ["a", "b", "c"]},
    {"name": "n", "address": "a@example.com"},
    {"id": "agent", "name": "n"},
)  # what `check` renders with

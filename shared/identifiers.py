"""Identifiers that outside producers and people give (contract 11): agent and person ids,
skill names, ticket, customer and command ids. 1-64 letters, digits and `._:@-`, so they are
safe in a URL path, a log line, a CSV cell and a Kafka key."""

import re
from typing import Annotated, Any, TypeGuard

from pydantic import AfterValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

IDENTIFIER = re.compile(r"[A-Za-z0-9._:@-]{1,64}")
RULE = "1-64 letters, digits or ._:@-"


def is_identifier(value: Any) -> TypeGuard[str]:
    return isinstance(value, str) and IDENTIFIER.fullmatch(value) is not None


def _identifier(value: str) -> str:
    if not is_identifier(value):
        raise PydanticCustomError("identifier", f"must be {RULE}")
    return value


Identifier = Annotated[
    str,
    AfterValidator(_identifier),
    WithJsonSchema({"type": "string", "pattern": f"^{IDENTIFIER.pattern}$", "description": RULE}),
]

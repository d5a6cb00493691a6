"""Opaque page cursors: a position (a few strings and numbers) as URL-safe base64 of JSON.
Pure. A cursor is not signed: it only says where a page ends, and any position a person
could forge shows them nothing they may not read."""

import base64
import binascii
import json

LONGEST = 512


class BadCursor(ValueError):
    """Not a cursor this API gave."""


def cursor_of(*position: str | int) -> str:
    text = json.dumps(position, ensure_ascii=False, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def position_of(cursor: str, *shape: type) -> tuple[str | int, ...]:
    """The position in `cursor`, each value of the type `shape` says; BadCursor otherwise."""
    if len(cursor) > LONGEST:
        raise BadCursor("cursor is not one this API gave")
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        position = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")).decode())
    except (binascii.Error, UnicodeError, ValueError):
        raise BadCursor("cursor is not one this API gave") from None
    fits = isinstance(position, list) and len(position) == len(shape)
    if not (fits and all(_fits(v, t) for v, t in zip(position, shape, strict=True))):
        raise BadCursor("cursor is not one this API gave")
    return tuple(position)


def _fits(value: object, kind: type) -> bool:
    """Of the type (a bool is no int), and an int the store takes (8 bytes)."""
    return type(value) is kind and (not isinstance(value, int) or -(2**63) <= value < 2**63)

"""Outside text on an operator's terminal: what the commands print from events, dead letters,
tickets and people can move no cursor, ring no bell and recolour nothing (contract 11)."""

import unicodedata


def printable(value: object) -> str:
    """`value` as text with every character Python would not print shown as repr shows it:
    C0, DEL and C1 controls (`\\x1b`, `\\n`, `\\x85`) and invisible format characters such as
    bidi overrides (`\\u202e`). Spaces of any script stay (U+3000 in a Chinese name), and so
    does a backslash."""
    return "".join(c if _shown_as_is(c) else repr(c)[1:-1] for c in str(value))


def _shown_as_is(character: str) -> bool:
    return character.isprintable() or unicodedata.category(character) == "Zs"

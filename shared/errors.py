"""Errors that decide what happens to an input; this module imports nothing heavy, so pure
decision modules can raise them."""


class PoisonMessage(ValueError):
    """Input that can never be handled; raise it with a reason a human understands.
    The input goes to the DLQ with that reason and the others go on."""


class UnknownEventType(ValueError):
    """A well-formed event whose type this version does not know; consumers skip it."""

"""Typed envelopes per event type and per topic, for handler signatures and AsyncAPI."""

from functools import cache
from typing import Annotated, Any, Literal, Union

from pydantic import Field, TypeAdapter, create_model

from kefu.shared.events.base import EventData
from kefu.shared.events.envelope import CloudEvent
from kefu.shared.events.registry import EVENT_TYPES, event_types_on
from kefu.shared.topics import Topic


@cache
def typed_envelope(model: type[EventData]) -> type[CloudEvent[Any]]:
    """`CloudEvent[TicketOpened]` whose `type` is the literal `kefu.ticket.opened`."""
    return create_model(
        model.__name__ + "Event",
        __base__=CloudEvent[model],  # type: ignore[valid-type]
        type=(Literal[model.event_type], Field(description="CloudEvents type")),
    )


@cache
def envelope_schema(*topics: Topic) -> Any:
    """The union of every envelope the topics carry, discriminated by `type`."""
    envelopes = tuple(typed_envelope(model) for topic in topics for model in event_types_on(topic))
    if len(envelopes) == 1:
        return envelopes[0]
    return Annotated[Union[envelopes], Field(discriminator="type")]  # noqa: UP007


@cache
def any_event() -> TypeAdapter[Any]:
    """Every event type kefu knows, discriminated by `type`: one validation decodes any."""
    envelopes = tuple(typed_envelope(model) for model in EVENT_TYPES.values())
    return TypeAdapter(Annotated[Union[envelopes], Field(discriminator="type")])  # noqa: UP007

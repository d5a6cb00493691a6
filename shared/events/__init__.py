"""The canonical event contract (contract section 3): envelope, data models, registry."""

from kefu.shared.events.base import EventData
from kefu.shared.events.envelope import (
    CloudEvent,
    UnknownEventType,
    decode_envelope,
    decode_event,
    new_event,
)
from kefu.shared.events.registry import EVENT_TYPES, event_types_on

__all__ = [
    "EVENT_TYPES",
    "CloudEvent",
    "EventData",
    "UnknownEventType",
    "decode_envelope",
    "decode_event",
    "event_types_on",
    "new_event",
]

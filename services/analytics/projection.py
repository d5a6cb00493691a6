"""Pure fold: a ticket's projection after one more event. No I/O."""

from typing import Any

from shared.events import CloudEvent
from shared.events.ticket import MessageReceived, TicketOpened

Projection = dict[str, Any]


def empty_projection(ticket_id: str) -> Projection:
    return {
        "_id": ticket_id,
        "status": None,
        "priority": None,
        "assignee": None,
        "sla": {},
        "csat": None,
        "messages": 0,
        "timeline": [],
    }


def has_applied(projection: Projection, event_id: str) -> bool:
    return any(entry["id"] == event_id for entry in projection["timeline"])


def apply_event(projection: Projection, event: CloudEvent[Any]) -> Projection:
    """The projection with `event` folded in; the timeline keeps every event in order."""
    updated = {**projection, "timeline": [*projection["timeline"], _timeline_entry(event)]}
    data = event.data
    if isinstance(data, TicketOpened):
        updated.update(data.model_dump(exclude={"ticket_id"}), status="new")
    elif isinstance(data, MessageReceived):
        updated["messages"] = projection["messages"] + 1
    updated["updated_at"] = event.time
    return updated


def _timeline_entry(event: CloudEvent[Any]) -> dict[str, Any]:
    return {"id": event.id, "type": event.type, "at": event.time}

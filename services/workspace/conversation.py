"""What a canonical event adds to its ticket's conversation (contract 8), pure: one `Entry`,
its id the event's id, or nothing.

- A customer message is a `message`, public, with its attachments; an agent's reply is a
  `reply` (public as sent), a note a `note` (never public).
- Milestones are kind `event` with the canonical type and a short system text: assignment,
  transfer, unassignment, escalation, status, priority, category, merge, reopening, SLA
  warning and breach, and survey answer. Only what the customer takes part in is public:
  status changes (a merge's close says so) and reopening. Who holds the ticket, its
  priority, its SLA and its ratings are the team's business, and staff ids stay off the
  customer's view.
- The author is whoever acted: the agent a command came from, the customer, or the system
  (routing, SLA, intake's own changes).
"""

from datetime import datetime
from typing import Any

from kefu.services.workspace.entries import Author, Entry, Kind
from kefu.shared.events import CloudEvent
from kefu.shared.events.sla import SlaBreached
from kefu.shared.events.survey import SurveyResponded
from kefu.shared.events.ticket import (
    AgentReplied,
    CategoryChanged,
    Escalated,
    MessageReceived,
    NoteAdded,
    PriorityChanged,
    Reopened,
    StatusChanged,
    TicketMerged,
    TransferRequested,
)
from kefu.shared.inbound import Attachment

NOT_AGENTS = ("system", "customer")  # what intake writes as `by` when no agent acted
# each milestone's text, from its data, `why` (": " and the reason or comment, if any),
# `target` (a transfer's agent or skill) and `levels` (a category's)
MILESTONES = {
    "kefu.ticket.status_changed": "status {from} → {to}{why}",
    "kefu.ticket.reopened": "reopened",
    "kefu.ticket.assigned": "assigned to {agent_id}",
    "kefu.ticket.unassigned": "unassigned from {agent_id}{why}",
    "kefu.ticket.transfer_requested": "transfer to {target} requested{why}",
    "kefu.agent.transfer_fell_back": "{to_agent_id} did not take the transfer in time: it goes "
    "to the next free agent",
    "kefu.ticket.escalated": "escalated from tier {from_tier} to {to_tier}{why}",
    "kefu.ticket.priority_changed": "priority {from} → {to}",
    "kefu.ticket.category_changed": "category {levels}",
    "kefu.ticket.merged": "merged into ticket {into_ticket_id}",
    "kefu.sla.warning": "SLA {metric} due at {due_at}: warning",
    "kefu.sla.breached": "SLA {metric} breached (due at {due_at})",
    "kefu.survey.responded": "{kind} answer {score}{why}",
}
PUBLIC_MILESTONES = ("kefu.ticket.status_changed", "kefu.ticket.reopened")


def actor(data: Any) -> str | None:
    """Who made a ticket event happen, as the event says (`by` or `agent_id`)."""
    match data:
        case AgentReplied() | NoteAdded() | CategoryChanged() | TicketMerged():
            return data.agent_id
        case StatusChanged() | PriorityChanged() | Reopened() | Escalated() | TransferRequested():
            return data.by
    return None


def agent_acted(data: Any) -> bool:
    """An agent's command made it happen (so its correlation id is the command's id)."""
    return actor(data) not in (None, *NOT_AGENTS)


def entry_of(event: CloudEvent[Any]) -> Entry | None:
    data = event.data
    match data:
        case MessageReceived(sender=sender):
            attachments = [Attachment.model_validate(a.model_dump()) for a in data.attachments]
            customer = Author(type="customer", id=sender.address, name=sender.name)
            return _entry(event, "message", True, customer, data.text, data.received_at).model_copy(
                update={"attachments": attachments}
            )
        case AgentReplied():
            reply = _entry(event, "reply", data.public, _author(data), data.text, data.replied_at)
            return reply.model_copy(update={"on_behalf": data.on_behalf})
        case NoteAdded():
            return _entry(event, "note", False, _author(data), data.text, data.at)
    said = milestone(event)
    if said is None:
        return None
    public, text = said
    at = data.breached_at if isinstance(data, SlaBreached) else getattr(data, "at", event.time)
    return _entry(event, "event", public, _author(data), text, at).model_copy(
        update={"event_type": event.type}
    )


def _entry(
    event: CloudEvent[Any], kind: Kind, public: bool, author: Author, text: str, at: datetime
) -> Entry:
    return Entry(
        id=event.id,
        ticket_id=event.data.ticket_id,
        kind=kind,
        public=public,
        author=author,
        text=text,
        at=at,
    )


def _author(data: Any) -> Author:
    if isinstance(data, SurveyResponded):
        return Author(type="customer")
    who = actor(data)
    if who is None or who == "system":
        return Author(type="system")
    return Author(type="customer") if who == "customer" else Author(type="agent", id=who)


def milestone(event: CloudEvent[Any]) -> tuple[bool, str] | None:
    """Whether a milestone is public, and its text; None for events that are none."""
    text = MILESTONES.get(event.type)
    if text is None:
        return None
    values = event.data.model_dump(mode="json")  # `from` by its name, times in RFC 3339
    why = values.get("reason") or values.get("comment")
    extra = {
        "why": f": {why}" if why else "",
        "target": values.get("to_agent_id") or f"skill {values.get('to_skill')}",
        "levels": " / ".join(values["to"]) if isinstance(values.get("to"), list) else "",
    }
    return event.type in PUBLIC_MILESTONES, text.format_map({**values, **extra})

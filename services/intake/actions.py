"""Pure decisions on agent actions: the canonical event each one becomes, checked against the
ticket's state. A command the state forbids raises `CommandRejected`: it is dead-lettered
with the reason, and `kefu.agent.command_refused` tells the agent why. Setting the status,
priority or category a ticket already has changes nothing and emits nothing (the command
counts as applied: sent again, it is skipped).

- A closed ticket is final: nothing changes it (a customer message opens a follow-up).
- Transfers and escalations need a ticket that is still being worked (not solved).
- Escalation raises the support tier by one, at most to 3.
- A category is any three levels (the policy's or not); a solved ticket may be recategorised.
- A merge closes the ticket into another open one of the same customer, or one it is related
  to (services/intake/merging.py).
- Any agent may work any ticket (colleagues cover, supervisors step in), but the ticket's
  assignee stays its owner: a transfer moves the ticket from the assignee, whoever asks
  (`by`), and a public reply from another agent says whom it was `on_behalf` of.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from kefu.services.intake.conversation import Conversation
from kefu.services.intake.merging import merge, merge_refusal
from kefu.shared.errors import PoisonMessage
from kefu.shared.events import CloudEvent, new_event
from kefu.shared.events.agent import AgentCommandRefused, AgentStatusChanged
from kefu.shared.events.base import EventData
from kefu.shared.events.ticket import (
    AgentReplied,
    CategoryChanged,
    Escalated,
    NoteAdded,
    PriorityChanged,
    StatusChanged,
    TransferRequested,
)
from kefu.shared.failures import describe, peek_json
from kefu.shared.identifiers import is_identifier
from kefu.shared.inbound import (
    EscalateCommand,
    MergeCommand,
    NoteCommand,
    PresenceCommand,
    ReplyCommand,
    SetCategoryCommand,
    SetPriorityCommand,
    SetStatusCommand,
    TicketCommand,
    TransferCommand,
    decode_agent_command,
)

SOURCE = "kefu/intake"
HIGHEST_TIER = 3


class CommandRejected(PoisonMessage):
    """The ticket's state forbids this action."""


def command_event(
    data: EventData, command_id: str, now: datetime, suffix: str = ""
) -> CloudEvent[Any]:
    """An event of an agent's command; a second one of the same command has a `suffix`."""
    return new_event(
        data,
        id=f"intake:agent:{command_id}{suffix}",
        source=SOURCE,
        correlationid=command_id,
        time=now,
    )


@dataclass(frozen=True)
class InvalidCommand:
    """A command on agent.inbound that is not valid but says whose it is: it is refused like
    one the ticket's state forbids, so the agent hears why."""

    agent_id: str
    command_id: str
    action: str
    ticket_id: str | None
    reason: str


def decode_command(raw: bytes) -> PresenceCommand | TicketCommand | InvalidCommand:
    """An agent command; one that fails validation but names its agent and command id is an
    `InvalidCommand`, anything else unreadable raises (and is dead-lettered)."""
    try:
        return decode_agent_command(raw)
    except ValidationError as error:
        head = peek_json(raw)
        agent_id, command_id = head.get("agent_id"), head.get("command_id")
        if not (is_identifier(agent_id) and is_identifier(command_id)):
            raise
        action, ticket_id = head.get("action"), head.get("ticket_id")
        return InvalidCommand(
            agent_id=agent_id,
            command_id=command_id,
            action=action if is_identifier(action) else "",
            ticket_id=ticket_id if is_identifier(ticket_id) else None,
            reason=describe(error, raw),
        )


def refusal_event(
    command: TicketCommand | InvalidCommand, reason: str, now: datetime
) -> CloudEvent[Any]:
    """What the agent workspace shows the agent whose command intake did not carry out."""
    named = {
        key: getattr(command, key) for key in ("agent_id", "command_id", "action", "ticket_id")
    }
    refused = AgentCommandRefused(**named, reason=reason, at=now)
    return new_event(
        refused,
        id=f"intake:agent:{command.command_id}:refused",
        source=SOURCE,
        correlationid=command.command_id,
        time=now,
    )


def presence_event(command: PresenceCommand, event_id: str, at: datetime) -> CloudEvent[Any]:
    data = AgentStatusChanged(
        agent_id=command.agent_id,
        status=command.status,
        skills=command.skills,
        capacity=command.capacity,
        tier=command.tier,
        at=at,
    )
    return new_event(
        data, id=event_id, source=SOURCE, correlationid=command.command_id or event_id, time=at
    )


def decide_command(
    command: TicketCommand, ticket: Conversation, now: datetime, into: Conversation | None = None
) -> tuple[list[CloudEvent[Any]], Conversation]:
    """The events of `command` and the ticket after them; raises CommandRejected. `into` is
    a merge's target as read (None: it does not exist)."""
    if ticket.status == "closed":
        raise CommandRejected(
            f"ticket {ticket.ticket_id} is closed; {command.action} is not possible on a closed "
            "ticket (a new customer message opens a follow-up)"
        )
    if isinstance(command, MergeCommand):
        if refusal := merge_refusal(ticket, into, command.into_ticket_id):
            raise CommandRejected(refusal)
        assert into is not None
        said, changes = merge(command, ticket, into, now)
    else:
        data, changes = _decide(command, ticket, now)
        said = [("", data)] if data is not None else []
    if not said:
        return [], ticket
    changed = ticket.model_copy(update={**changes, "updated_at": max(ticket.updated_at, now)})
    return [command_event(data, command.command_id, now, suffix) for suffix, data in said], changed


def _decide(
    command: TicketCommand, ticket: Conversation, now: datetime
) -> tuple[EventData | None, dict[str, Any]]:
    ticket_id, agent_id = ticket.ticket_id, command.agent_id
    match command:
        case ReplyCommand():
            replied = AgentReplied(
                ticket_id=ticket_id,
                agent_id=agent_id,
                command_id=command.command_id,
                public=command.public,
                text=command.text,
                on_behalf=_owner_if_not(agent_id, ticket) if command.public else None,
                replied_at=now,
            )
            return replied, {}
        case NoteCommand():
            note = NoteAdded(
                ticket_id=ticket_id,
                agent_id=agent_id,
                command_id=command.command_id,
                text=command.text,
                at=now,
            )
            return note, {}
        case SetStatusCommand(status=status) if status != ticket.status:
            changed = StatusChanged(
                ticket_id=ticket_id, from_status=ticket.status, to=status, by=agent_id, at=now
            )
            return changed, {"status": status}
        case SetPriorityCommand(priority=priority) if priority != ticket.priority:
            changed = PriorityChanged(
                ticket_id=ticket_id,
                from_priority=ticket.priority,
                to=priority,
                by=agent_id,
                at=now,
            )
            return changed, {"priority": priority}
        case TransferCommand():
            _require_active(ticket, "transferred")
            transfer = TransferRequested(
                ticket_id=ticket_id,
                from_agent_id=ticket.assignee,
                by=agent_id,
                to_agent_id=command.to_agent_id,
                to_skill=command.to_skill,
                reason=command.reason,
                at=now,
            )
            return transfer, {}
        case EscalateCommand():
            return _escalation(command, ticket, now)
        case SetCategoryCommand(category=category) if tuple(category) != ticket.category:
            recategorised = CategoryChanged(
                ticket_id=ticket_id,
                from_category=list(ticket.category) or None,
                to=category,
                agent_id=agent_id,
                at=now,
            )
            return recategorised, {"category": tuple(category)}
    return None, {}


def _escalation(
    command: EscalateCommand, ticket: Conversation, now: datetime
) -> tuple[EventData, dict[str, Any]]:
    _require_active(ticket, "escalated")
    if ticket.tier >= HIGHEST_TIER:
        raise CommandRejected(
            f"ticket {ticket.ticket_id} is already at tier {HIGHEST_TIER}, the highest"
        )
    escalated = Escalated(
        ticket_id=ticket.ticket_id,
        from_tier=ticket.tier,
        to_tier=ticket.tier + 1,
        reason=command.reason,
        by=command.agent_id,
        at=now,
    )
    return escalated, {"tier": ticket.tier + 1}


def _owner_if_not(agent_id: str, ticket: Conversation) -> str | None:
    return ticket.assignee if ticket.assignee not in (None, agent_id) else None


def _require_active(ticket: Conversation, verb: str) -> None:
    if ticket.status == "solved":
        raise CommandRejected(
            f"ticket {ticket.ticket_id} is solved; only a ticket still being worked can be {verb}"
        )

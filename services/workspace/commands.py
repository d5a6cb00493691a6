"""Agent actions sent through the workspace (contract 8) and what became of them, pure.

An action's body is a section 2.2 ticket command without `agent_id`: the workspace adds
the signed-in person as the agent and the path's ticket, and makes a `command_id` when the
body has none; the result is checked by the same models intake checks (shared/inbound.py).
A body that names an agent, or another ticket than the path's, is refused with that field.

A command is `pending` until the workspace reads its outcome: `applied` when a ticket event
an agent's command caused carries the command's id as its correlation id (intake's command
events do), `refused` with intake's reason on `kefu.agent.command_refused`. Intake emits
nothing for setting the status, priority or category a ticket already has (and counts the
command applied), so such a command is applied when sent, if the record already shows that
value on a ticket that is not closed (a closed ticket refuses everything).
"""

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from kefu.services.workspace.conversation import agent_acted
from kefu.services.workspace.record import TicketSummary
from kefu.shared.events import CloudEvent
from kefu.shared.events.agent import AgentCommandRefused
from kefu.shared.inbound import (
    SetCategoryCommand,
    SetPriorityCommand,
    SetStatusCommand,
    TicketCommand,
)

Status = Literal["pending", "applied", "refused"]
_TICKET_COMMAND: TypeAdapter[Any] = TypeAdapter(
    Annotated[TicketCommand, Field(discriminator="action")]
)


class ActionRefused(ValueError):
    """The body is not a command the workspace may send; `problems` say which fields."""

    def __init__(self, problems: list[dict[str, Any]]) -> None:
        super().__init__(problems)
        self.problems = problems


class CommandState(BaseModel):
    """A command as `workspace_commands` keeps it (the audit trail reads it by `_id`)."""

    command_id: str
    person_id: str | None = None  # None: its outcome was read before it was recorded as sent
    ticket_id: str | None = None
    action: str | None = None
    status: Status = "pending"
    reason: str | None = None
    at: datetime | None = None


def ticket_command(
    body: dict[str, Any], person_id: str, ticket_id: str, command_id: str
) -> TicketCommand:
    """The command `body` asks for, as `person_id` on `ticket_id`; `command_id` when the
    body has none. Raises ActionRefused."""
    problems = []
    if "agent_id" in body:
        problems.append(_problem("agent_id", "the workspace sends as the signed-in person"))
    if body.get("ticket_id", ticket_id) != ticket_id:
        problems.append(_problem("ticket_id", "must be the ticket of the path, or absent"))
    if problems:
        raise ActionRefused(problems)
    given = {**body, "agent_id": person_id, "ticket_id": ticket_id}
    try:
        command = _TICKET_COMMAND.validate_python(
            {**given, "command_id": body.get("command_id") or command_id}
        )
    except ValidationError as error:
        raise ActionRefused(
            [{key: e[key] for key in ("loc", "msg", "type")} for e in error.errors()]
        ) from None
    assert isinstance(command, TicketCommand)
    return command


def _problem(field: str, sentence: str) -> dict[str, Any]:
    return {"loc": (field,), "msg": f"{field}: {sentence}", "type": "value_error"}


def changes_nothing(command: TicketCommand, ticket: TicketSummary | None) -> bool:
    """Whether intake will emit nothing for the command, the ticket being as the record
    shows it (setting what it already has)."""
    if ticket is None or ticket.status in (None, "closed"):
        return False
    match command:
        case SetStatusCommand():
            return command.status == ticket.status
        case SetPriorityCommand():
            return command.priority == ticket.priority
        case SetCategoryCommand():
            return command.category == ticket.category
    return False


def outcome_of(event: CloudEvent[Any]) -> tuple[str, Status, str | None] | None:
    """The command an event settles: its id, applied or refused, and intake's reason."""
    data = event.data
    if isinstance(data, AgentCommandRefused):
        return data.command_id, "refused", data.reason
    if agent_acted(data):
        return event.correlationid, "applied", None
    return None

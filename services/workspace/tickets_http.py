"""The workspace's ticket API (contract 8): a ticket's conversation with its customer's
other tickets, a person's tickets, the queue, actions sent as the signed-in person, and
what became of each (commands.py says the rules, record_store.py where it is kept)."""

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict

from kefu.services.workspace.commands import ActionRefused, Status, ticket_command
from kefu.services.workspace.entries import Entry
from kefu.services.workspace.identity import Identity, Me
from kefu.services.workspace.ordering import desk_order
from kefu.services.workspace.record import Requester, TicketSummary
from kefu.services.workspace.record_store import RecordStore
from kefu.services.workspace.sending import NOT_SENT, CommandTaken, NotSent, Sender, new_command_id
from kefu.services.workspace.store import WorkspaceStore
from kefu.shared.events.base import CustomerTier, Priority, TicketStatus
from kefu.shared.http_errors import Refusal, documented_body, json_body, refusals
from kefu.shared.identifiers import Identifier
from kefu.shared.settings import ROLE_RANK

# kept in the summary, not shown: the reads' keys and what they follow from
INTERNAL = {"queue_rank", "desk", "history_key", "sla_targets", "sla_ended", "waiting_since"}


class TicketLine(BaseModel):
    """A ticket in a list: a person's tickets, the queue."""

    model_config = ConfigDict(from_attributes=True)

    ticket_id: str
    subject: str | None
    status: TicketStatus | None
    priority: Priority | None
    requester: Requester | None
    customer_tier: CustomerTier
    tier: int
    assignee: str | None
    next_due_at: datetime | None
    last_message_at: datetime | None
    opened_at: datetime | None


class CommandView(BaseModel):
    command_id: str
    status: Status
    reason: str | None
    action: str | None
    ticket_id: str | None


def tickets_api(
    identity: Identity, record: RecordStore, people: WorkspaceStore, sender: Sender
) -> APIRouter:
    router = APIRouter()
    agent, supervisor = identity.at_least("agent"), identity.at_least("supervisor")
    # an action is checked by commands.py, not by a model; read after the token check
    Action = dict[str, Any]
    ActionBody = Annotated[Action, Depends(json_body(Action, identity.settings.max_body_bytes))]

    @router.get(
        "/v1/tickets/{ticket_id}/conversation",
        dependencies=[Depends(agent)],
        responses=refusals(401, 404, 422, model=Refusal),
    )
    async def conversation(ticket_id: Identifier) -> dict[str, Any]:
        ticket = await record.summary(ticket_id)
        if ticket is None:
            raise HTTPException(404, "no such ticket")
        sources = await record.merged_sources(ticket)
        entries = await _named(await record.conversation([ticket_id, *sources]), people)
        history = await record.history(ticket)
        return {
            "ticket": ticket.model_dump(mode="json", exclude=INTERNAL),
            "entries": [entry.model_dump(mode="json") for entry in entries],
            "customer_history": [
                other.model_dump(
                    mode="json", include={"ticket_id", "subject", "status", "opened_at"}
                )
                for other in history
            ],
        }

    @router.get(
        "/v1/me/tickets",
        response_model=list[TicketLine],
        responses=refusals(401, model=Refusal),
    )
    async def my_tickets(found: Annotated[Me, Depends(agent)]) -> list[TicketSummary]:
        return sorted(await record.desk(found.person.id), key=desk_order)

    @router.get(
        "/v1/queue",
        response_model=list[TicketLine],
        dependencies=[Depends(supervisor)],
        responses=refusals(401, 403, 422, model=Refusal),
    )
    async def queue(limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[TicketSummary]:
        return await record.queue(limit)

    @router.post(
        "/v1/tickets/{ticket_id}/actions",
        status_code=202,
        responses=refusals(400, 401, 409, 413, 422, model=Refusal),
        openapi_extra=documented_body(Action),
    )
    async def act(
        ticket_id: Identifier, found: Annotated[Me, Depends(agent)], body: ActionBody
    ) -> dict[str, str]:
        person = found.person
        try:
            command = ticket_command(body, person.id, ticket_id, new_command_id())
        except ActionRefused as refused:
            raise RequestValidationError(
                [{**problem, "loc": ("body", *problem["loc"])} for problem in refused.problems]
            ) from None
        try:
            await sender.send(person.id, command)
        except CommandTaken:
            raise HTTPException(409, "this command_id is another person's command") from None
        except NotSent:
            raise HTTPException(503, NOT_SENT) from None
        return {"command_id": command.command_id}

    @router.get(
        "/v1/commands/{command_id}",
        response_model=CommandView,
        responses=refusals(401, 404, 422, model=Refusal),
    )
    async def command(
        command_id: Identifier,
        found: Annotated[Me, Depends(identity.me)],
    ) -> CommandView:
        person, kept = found.person, await record.command(command_id)
        boss = ROLE_RANK[person.highest_role()] >= ROLE_RANK["supervisor"]
        if kept is None or not (boss or kept.person_id == person.id):
            raise HTTPException(404, "no such command of yours")
        return CommandView.model_validate(kept.model_dump())

    return router


async def _named(entries: list[Entry], people: WorkspaceStore) -> list[Entry]:
    """The entries with their agents' names as they are now (the events carry ids)."""
    agents = sorted({e.author.id for e in entries if e.author.type == "agent" and e.author.id})
    names = await people.names(agents) if agents else {}
    return [
        entry.model_copy(update={"author": entry.author.model_copy(update={"name": name})})
        if (name := names.get(entry.author.id or ""))
        else entry
        for entry in entries
    ]

"""Macros (contract 8): listed for agents, kept by supervisors, applied to a ticket by an
agent as a public reply of the rendered text, then the macro's actions, as that agent."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Response
from pydantic import BaseModel

from kefu.services.workspace.audit import AuditLog
from kefu.services.workspace.commands import ActionRefused, ticket_command
from kefu.services.workspace.identity import Identity, Me
from kefu.services.workspace.macro_store import MacroStore
from kefu.services.workspace.macros import Macro, MacroRefused, context, render
from kefu.services.workspace.people import Person
from kefu.services.workspace.record_store import RecordStore
from kefu.services.workspace.sending import NOT_SENT, NotSent, Sender, new_command_id
from kefu.shared.http_errors import Refusal, documented_body, json_body, refusals
from kefu.shared.identifiers import Identifier
from kefu.shared.inbound import TicketCommand


class CommandsSent(BaseModel):
    command_ids: list[str]


def macros_api(
    identity: Identity,
    macros: MacroStore,
    record: RecordStore,
    sender: Sender,
    audit: AuditLog,
) -> APIRouter:
    router = APIRouter()
    Agent = Annotated[Me, Depends(identity.at_least("agent"))]
    Supervisor = Annotated[Me, Depends(identity.at_least("supervisor"))]
    # read after the token check: FastAPI would read and parse the body before it
    MacroBody = Annotated[Macro, Depends(json_body(Macro, identity.settings.max_body_bytes))]

    @router.get(
        "/v1/macros",
        response_model=list[Macro],
        dependencies=[Depends(identity.at_least("agent"))],
        responses=refusals(401, model=Refusal),
    )
    async def every_macro() -> list[Macro]:
        return await macros.every()

    @router.post(
        "/v1/macros",
        status_code=201,
        response_model=Macro,
        responses=refusals(400, 401, 403, 409, 413, 422, model=Refusal),
        openapi_extra=documented_body(Macro),
    )
    async def add_macro(by: Supervisor, body: MacroBody) -> Macro:
        macro = body if body.id else body.model_copy(update={"id": f"m-{uuid.uuid4().hex[:12]}"})
        if not await macros.add(macro):
            raise HTTPException(409, "a macro with this id exists")
        await audit.record(by.person.id, "macro_added", detail=macro.id)
        return macro

    @router.put(
        "/v1/macros/{macro_id}",
        response_model=Macro,
        responses=refusals(400, 401, 403, 404, 413, 422, model=Refusal),
        openapi_extra=documented_body(Macro),
    )
    async def change_macro(macro_id: Identifier, by: Supervisor, body: MacroBody) -> Macro:
        if body.id not in (None, macro_id):
            raise HTTPException(422, "id: must be the macro of the path, or absent")
        macro = body.model_copy(update={"id": macro_id})
        if not await macros.replace(macro):
            raise HTTPException(404, "no such macro")
        await audit.record(by.person.id, "macro_changed", detail=macro_id)
        return macro

    @router.delete(
        "/v1/macros/{macro_id}",
        status_code=204,
        responses=refusals(401, 403, 404, 422, model=Refusal),
    )
    async def remove_macro(macro_id: Identifier, by: Supervisor) -> Response:
        if not await macros.remove(macro_id):
            raise HTTPException(404, "no such macro")
        await audit.record(by.person.id, "macro_removed", detail=macro_id)
        return Response(status_code=204)

    @router.post(
        "/v1/tickets/{ticket_id}/macros/{macro_id}",
        status_code=202,
        response_model=CommandsSent,
        responses=refusals(401, 404, 422, model=Refusal),
    )
    async def apply_macro(ticket_id: Identifier, macro_id: Identifier, by: Agent) -> CommandsSent:
        macro = await macros.macro(macro_id)
        if macro is None:
            raise HTTPException(404, "no such macro")
        person = by.person
        try:
            commands = await macro_commands(macro, record, person, ticket_id)
        except MacroRefused as refused:
            raise HTTPException(422, f"text: {refused.args[0]}") from None
        except ActionRefused as refused:
            raise HTTPException(422, refused.problems) from None
        try:
            for command in commands:  # one after the other: intake takes them in this order
                await sender.send(person.id, command)
        except NotSent:
            raise HTTPException(503, NOT_SENT) from None
        await audit.record(person.id, "macro_applied", ticket_id, detail=macro_id)
        return CommandsSent(command_ids=[command.command_id for command in commands])

    return router


async def macro_commands(
    macro: Macro, record: RecordStore, person: Person, ticket_id: str
) -> list[TicketCommand]:
    """What applying the macro to the ticket sends as the person, in order: a public reply of
    the rendered text, then the macro's actions (the API and the desk's form both send
    these). Raises MacroRefused or ActionRefused."""
    ticket = await record.summary(ticket_id)
    requester = ticket.requester if ticket else None
    values = context(
        ticket.model_dump() | {"id": ticket_id} if ticket else {"id": ticket_id},
        requester.model_dump() if requester else {},
        {"id": person.id, "name": person.name},
    )
    text = render(macro.text, values)
    # a blank text sends no reply: a macro may be only its actions
    bodies = ([{"action": "reply", "text": text, "public": True}] if text.strip() else []) + [
        *macro.actions
    ]
    fresh = new_command_id()
    return [
        ticket_command(body, person.id, ticket_id, f"{fresh}-{index}")
        for index, body in enumerate(bodies)
    ]

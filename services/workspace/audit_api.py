"""`GET /v1/audit` (contract 8, supervisor): what people did through the workspace, newest
first, a page at a time; filters by ticket, person and time."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel

from kefu.services.workspace.audit import AuditLog, time_key
from kefu.services.workspace.identity import Identity
from kefu.services.workspace.paging import LONGEST, BadCursor, cursor_of, position_of
from kefu.shared.http_errors import Refusal, refusals

PAGE_MOST = 200


class AuditLine(BaseModel):
    at: datetime
    person_id: str
    action: str
    ticket_id: str | None = None
    command_id: str | None = None
    outcome: str | None = None
    detail: str | None = None


class AuditPage(BaseModel):
    lines: list[AuditLine]
    next_cursor: str | None


def audit_api(identity: Identity, audit: AuditLog) -> APIRouter:
    router = APIRouter(
        dependencies=[Depends(identity.at_least("supervisor"))],
        responses=refusals(401, 403, 422, model=Refusal),
    )

    @router.get("/v1/audit", response_model=AuditPage)
    async def audit_lines(
        ticket_id: Annotated[str | None, Query(max_length=64)] = None,
        person_id: Annotated[str | None, Query(max_length=320)] = None,
        since: datetime | None = None,
        limit: Annotated[int, Query(ge=1, le=PAGE_MOST)] = 50,
        cursor: Annotated[str | None, Query(max_length=LONGEST)] = None,
    ) -> AuditPage:
        try:
            before = str(position_of(cursor, str)[0]) if cursor else None
        except BadCursor as bad:
            raise HTTPException(422, str(bad)) from None
        where: dict[str, object] = {"ticket_id": ticket_id, "person_id": person_id}
        where = {name: value for name, value in where.items() if value is not None}
        try:
            from_key = time_key(since) if since else None
        except OverflowError:  # 9999-12-31T23:59-05:00 is no UTC time
            raise HTTPException(422, "since is out of range") from None
        lines = await audit.page(where, from_key, before, limit)
        more = len(lines) == limit
        return AuditPage(
            lines=[AuditLine.model_validate(line) for line in lines],
            next_cursor=cursor_of(lines[-1]["_id"]) if more else None,
        )

    return router

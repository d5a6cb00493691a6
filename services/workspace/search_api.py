"""`GET /v1/search` (contract 8, agent): tickets holding every word of `q`, newest first."""

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query

from kefu.services.workspace.identity import Identity
from kefu.services.workspace.paging import LONGEST, BadCursor
from kefu.services.workspace.search_index import QueryRefused, SearchPage, TicketSearch
from kefu.shared.http_errors import Refusal, refusals

PAGE_MOST = 100


def search_api(identity: Identity, index: TicketSearch) -> APIRouter:
    router = APIRouter(
        dependencies=[Depends(identity.at_least("agent"))],
        responses=refusals(401, 422, model=Refusal),
    )

    @router.get("/v1/search", response_model=SearchPage)
    async def search(
        q: Annotated[str, Query(min_length=1, max_length=1000)],
        limit: Annotated[int, Query(ge=1, le=PAGE_MOST)] = 20,
        cursor: Annotated[str | None, Query(max_length=LONGEST)] = None,
    ) -> SearchPage:
        try:
            return await index.search(q, limit, cursor)
        except (QueryRefused, BadCursor) as refused:
            raise HTTPException(422, str(refused)) from None

    return router

"""The HTTP door (FastAPI, mounted in intake's app): `POST /v1/inbound/channel` and
`POST /v1/inbound/agent` (contract 2, 5.1).

A body is checked exactly as the consumer checks it, then forwarded unchanged to the same
topic, so both doors behave the same. The body is read by hand, not by FastAPI, so that the
bytes on the topic are the bytes sent and the size limit holds while reading: 202 once the
broker has it; 401 without a valid bearer token (any role); 415 a content type other than
JSON; 413 over KEFU_MAX_BODY_BYTES; 400 not UTF-8 JSON; 422 invalid, each problem at its field.
Every error body is `{"error": <a sentence>, "detail": …}`, FastAPI's `detail` included.
Checks that need ticket state (a reply on a closed ticket) happen behind the topic.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, TypeAdapter, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from kefu.shared.auth import Caller, role_at_least
from kefu.shared.bus import Bus
from kefu.shared.failures import problems
from kefu.shared.http_errors import Refusal, read_body
from kefu.shared.inbound import (
    AgentCommand,
    ChannelMessage,
    TimeBounds,
    decode_agent_command,
    decode_channel_message,
)
from kefu.shared.logs import get_logger
from kefu.shared.ratelimit import RateLimit
from kefu.shared.settings import Settings
from kefu.shared.topics import Topic

log = get_logger("kefu.intake.http")
SCHEMA_REF = "#/components/schemas/{model}"


class Accepted(BaseModel):
    accepted: bool
    topic: str
    key: str


@dataclass(frozen=True)
class Door:
    topic: Topic
    body: TypeAdapter[Any]
    decode: Callable[[bytes, TimeBounds], Any]
    key: Callable[[Any], str]
    summary: str
    # whom a body speaks for: a person's token may only speak for that person (contract 8)
    speaker: Callable[[Any], str] | None = None


DOORS = {
    "/v1/inbound/channel": Door(
        Topic.CHANNEL_INBOUND,
        TypeAdapter(ChannelMessage),
        decode_channel_message,
        lambda message: message.partition_key(),
        "A customer message, forwarded to channel.inbound",
    ),
    "/v1/inbound/agent": Door(
        Topic.AGENT_INBOUND,
        TypeAdapter(AgentCommand),
        lambda raw, _bounds: decode_agent_command(raw),
        lambda command: command.agent_id,
        "An agent's presence or action, forwarded to agent.inbound",
        speaker=lambda command: command.agent_id,
    ),
}
REFUSALS: dict[int | str, dict[str, Any]] = {
    status: {"model": Refusal, "description": text}
    for status, text in {
        400: "not UTF-8 JSON",
        401: "no valid bearer token",
        403: "a person's token sending for another agent_id",
        413: "over KEFU_MAX_BODY_BYTES, refused while reading",
        415: "a content type other than JSON",
        422: "invalid: `detail` lists each problem at its field (`from.address`)",
        429: "over KEFU_RATE_LIMIT requests a second for this token; `Retry-After` says when",
    }.items()
}


def inbound_api(bus: Bus) -> FastAPI:
    bus.declare_forwards(*(door.topic for door in DOORS.values()))
    api = FastAPI(
        title="kefu intake", version="1", docs_url=None, redoc_url=None, redirect_slashes=False
    )
    api.add_exception_handler(StarletteHTTPException, refused)
    any_token = role_at_least(bus.settings, "agent", door_limit(bus.settings))
    schemas: dict[str, Any] = {}
    for path, door in DOORS.items():
        body = door.body.json_schema(by_alias=True, ref_template=SCHEMA_REF)
        schemas.update(body.pop("$defs", {}))
        api.add_api_route(
            path,
            forwarding(bus, door, any_token),
            methods=["POST"],
            status_code=202,
            summary=door.summary,
            responses=REFUSALS,
            openapi_extra={
                "requestBody": {"required": True, "content": {"application/json": {"schema": body}}}
            },
        )
    _document(api, schemas)
    return api


def forwarding(bus: Bus, door: Door, any_token: Callable[..., Caller]) -> Callable[..., Any]:
    limit, bounds = bus.settings.max_body_bytes, TimeBounds.of(bus.settings)

    async def forward(request: Request, caller: Annotated[Caller, Depends(any_token)]) -> Accepted:
        _require_json(request.headers.get("content-type"))
        raw = await read_body(request, limit)
        try:
            accepted = door.decode(raw, bounds)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise HTTPException(400, f"body is not UTF-8 JSON: {error}") from None
        except ValidationError as error:
            raise HTTPException(422, problems(error)) from None
        if caller.person and door.speaker and door.speaker(accepted) != caller.id:
            raise HTTPException(403, f"{caller.id} may only send its own commands, not as another")
        key = door.key(accepted)
        await bus.forward(door.topic, raw, key)
        return Accepted(accepted=True, topic=bus.topic(door.topic), key=key)

    return forward


def door_limit(settings: Settings) -> RateLimit | None:
    """KEFU_RATE_LIMIT a second per token, bursts of twice that; one for both doors."""
    rate = settings.rate_limit
    return RateLimit(rate, 2 * rate) if rate else None


def _require_json(content_type: str | None) -> None:
    """No content type is taken as JSON; any other than JSON is refused."""
    media = (content_type or "application/json").partition(";")[0].strip().lower()
    if media != "application/json" and not media.endswith("+json"):
        raise HTTPException(415, f"send the body as application/json, not {media[:40]}")


async def refused(request: Request, error: StarletteHTTPException) -> JSONResponse:
    """Every refusal as `{"error", "detail"}`, logged, with the headers it needs (`Allow`,
    `WWW-Authenticate`)."""
    detail = error.detail
    sentence = "invalid payload" if error.status_code == 422 else str(detail)
    where = {"path": request.url.path, "status": error.status_code}
    log.info("inbound request refused", error=sentence, **where)
    return JSONResponse(
        {"error": sentence, "detail": detail}, error.status_code, headers=error.headers
    )


def _document(api: FastAPI, schemas: dict[str, Any]) -> None:
    """FastAPI documents the routes; the request bodies' nested models join its components
    (the bodies are read by hand, so FastAPI does not know them)."""
    generate = api.openapi

    def openapi() -> dict[str, Any]:
        document = generate()
        document.setdefault("components", {}).setdefault("schemas", {}).update(schemas)
        return document

    api.openapi = openapi  # type: ignore[method-assign]

"""How kefu's FastAPI apps refuse what they cannot take (contract 11): a 4xx with a reason,
documented in OpenAPI, never a 500 and never the input echoed back (it may be a password, or
megabytes). A JSON body is read by hand, after the route's dependencies (the token check), and
never past KEFU_MAX_BODY_BYTES."""

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from fastapi import HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, TypeAdapter, ValidationError

Body = TypeVar("Body")
REASONS = {
    400: "the body is not UTF-8 JSON",
    401: "no valid bearer token or sign-in",
    403: "the role is too low",
    404: "no such thing, or not the caller's",
    409: "in conflict with what exists",
    413: "a body over KEFU_MAX_BODY_BYTES, refused while reading",
    422: "invalid: `detail` says where and what",
    429: "too many tries: `Retry-After` says when to try again",
}


class Problem(BaseModel):
    """FastAPI's error body."""

    detail: Any


class Refusal(Problem):
    """An error body with a sentence first: `{"error": ..., "detail": ...}`."""

    error: str


def problem(description: str, model: type[BaseModel] = Problem) -> dict[str, Any]:
    """A refusal as OpenAPI documents it: JSON whatever media type the route answers."""
    schema = model.model_json_schema()
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def refusals(*statuses: int, model: type[BaseModel] = Problem) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` of the statuses a route refuses with."""
    return {status: problem(REASONS[status], model) for status in statuses}


def problems(error: RequestValidationError) -> list[dict[str, Any]]:
    """Each problem's place (`["query", "limit"]`), sentence and type, without its input."""
    return [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in error.errors()]


async def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
    """FastAPI's 422 (`{"detail": [...]}`) without the inputs it would echo."""
    return JSONResponse({"detail": problems(error)}, 422)


def json_body(shape: type[Body], limit: int) -> Callable[[Request], Awaitable[Body]]:
    """A dependency: the JSON body as `shape`, a pydantic model or any type pydantic validates
    (`dict[str, Any]`). FastAPI reads a body it knows before any dependency runs; this one is
    read after the route's dependencies, and refused past `limit` bytes (413). OpenAPI learns
    the body from `documented_body`."""
    adapter = TypeAdapter(shape)

    async def body(request: Request) -> Body:
        raw = await read_body(request, limit)
        try:
            return adapter.validate_json(raw)
        except ValidationError as error:
            found = error.errors(include_url=False, include_input=False)
            in_body = [{**e, "loc": ("body", *e["loc"])} for e in found]
            raise RequestValidationError(in_body) from None

    return body


def documented_body(shape: type[Any]) -> dict[str, Any]:
    """`openapi_extra` of a route whose JSON body `json_body` reads."""
    schema = TypeAdapter(shape).json_schema()
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


async def read_body(request: Request, limit: int) -> bytes:
    """The body's bytes; 413 at once when its Content-Length is over `limit`, else as soon as
    what arrives is."""
    too_large = HTTPException(413, f"body larger than {limit} bytes (KEFU_MAX_BODY_BYTES)")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)

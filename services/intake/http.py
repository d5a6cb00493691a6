"""The HTTP door: `POST /v1/inbound/channel` and `POST /v1/inbound/agent` (contract 2, 5.1).

A body is checked exactly as the consumer checks it, then forwarded unchanged to the same topic,
so both doors behave the same: 202 once the broker has it, 400 not UTF-8 JSON, 401 without a
valid bearer token (any role), 413 over KEFU_MAX_BODY_BYTES (checked while reading, before
parsing), 422 invalid. Checks that need ticket state (a reply on a closed ticket) happen
behind the topic and dead-letter the command with the reason.
"""

import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from shared.bus import Bus
from shared.failures import problems
from shared.inbound import decode_agent_command, decode_channel_message
from shared.logs import get_logger
from shared.topics import Topic

Scope = dict[str, Any]
log = get_logger("kefu.intake.http")


@dataclass(frozen=True)
class Door:
    topic: Topic
    decode: Callable[[bytes], Any]
    key: Callable[[Any], str]


DOORS = {
    "/v1/inbound/channel": Door(
        Topic.CHANNEL_INBOUND, decode_channel_message, lambda message: message.partition_key()
    ),
    "/v1/inbound/agent": Door(
        Topic.AGENT_INBOUND, decode_agent_command, lambda command: command.agent_id
    ),
}


class TooLarge(Exception):
    pass


class InboundDoor:
    """An ASGI app for one of the inbound paths."""

    def __init__(self, bus: Bus, door: Door) -> None:
        self.bus = bus
        self.door = door
        self.limit = bus.settings.max_body_bytes
        self.tokens = [token.encode() for token in bus.settings.tokens()]

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        status, body = await self._answer(scope, receive)
        if status != 202:
            log.info("inbound request refused", path=scope["path"], status=status, **body)
        headers = [(b"content-type", b"application/json")]
        if status == 401:
            headers.append((b"www-authenticate", b'Bearer realm="kefu"'))
        if status == 405:
            headers.append((b"allow", b"POST"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": json.dumps(body).encode()})

    async def _answer(self, scope: Scope, receive: Any) -> tuple[int, dict[str, Any]]:
        if scope["method"] != "POST":
            return 405, {"error": "use POST"}
        headers = dict(scope["headers"])
        if not self._authorised(headers.get(b"authorization", b"")):
            return 401, {"error": "a valid bearer token is required (Authorization: Bearer …)"}
        try:
            raw = await self._read(headers, receive)
        except TooLarge:
            return 413, {"error": f"body larger than {self.limit} bytes (KEFU_MAX_BODY_BYTES)"}
        try:
            accepted = self.door.decode(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            return 400, {"error": f"body is not UTF-8 JSON: {error}"}
        except ValidationError as error:
            return 422, {"error": "invalid payload", "detail": problems(error)}
        key = self.door.key(accepted)
        await self.bus.forward(self.door.topic, raw, key)
        return 202, {"accepted": True, "topic": self.bus.topic(self.door.topic), "key": key}

    def _authorised(self, authorization: bytes) -> bool:
        scheme, _, token = authorization.decode("latin-1").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return False
        offered = token.strip().encode()
        # compare against every token, so the time taken does not tell how close a guess was
        matches = [hmac.compare_digest(offered, known) for known in self.tokens]
        return any(matches)

    async def _read(self, headers: dict[bytes, bytes], receive: Any) -> bytes:
        declared = headers.get(b"content-length", b"").decode("latin-1")
        if declared.isdigit() and int(declared) > self.limit:
            raise TooLarge
        chunks, size = [], 0
        while True:
            message = await receive()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                raise TooLarge
            chunks.append(chunk)
            if not message.get("more_body"):
                return b"".join(chunks)


def inbound_routes(bus: Bus) -> list[tuple[str, InboundDoor]]:
    bus.declare_forwards(*(door.topic for door in DOORS.values()))
    return [(path, InboundDoor(bus, door)) for path, door in DOORS.items()]

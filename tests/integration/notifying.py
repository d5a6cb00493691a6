"""A running notify with what it talks to: a real SMTP server (aiosmtpd) that keeps every
mail, and one local HTTP server that is the SMS gateway and the webhook receiver, scripted
to fail on demand."""

import asyncio
import email
import email.policy
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import yaml
from aiosmtpd.controller import Controller
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from kefu.embedded import free_port
from kefu.services.notify.app import build
from kefu.shared.admin import create_topics
from kefu.shared.service import Service
from kefu.shared.settings import Settings
from kefu.shared.topics import Topic
from tests.conftest import TEST_PARTITIONS, isolated_settings
from tests.integration.conftest import served
from tests.sla_events import ESCALATING

TOKEN = "notify-admin-token"
STAFF = {"supervisor": ["lead@example.com"], "manager": ["head@example.com", "boss@example.com"]}


class Mailbox:
    """An SMTP handler that keeps every accepted mail, parsed."""

    def __init__(self) -> None:
        self.mails: list[EmailMessage] = []
        self.arrived = asyncio.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.mails.append(parsed)  # type: ignore[arg-type]
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.mails if address in str(m["To"])]


@dataclass
class Gateway:
    """The SMS gateway and webhook receiver: records requests; `script` answers the next
    requests of a path with these statuses (then 200)."""

    requests: list[tuple[str, dict[str, str], bytes, float]] = field(default_factory=list)
    script: dict[str, list[tuple[int, dict[str, str]]]] = field(default_factory=dict)

    async def receive(self, request: Request) -> Response:
        body = await request.body()
        self.requests.append((request.url.path, dict(request.headers), body, time.monotonic()))
        planned = self.script.get(request.url.path) or []
        if planned:
            status, headers = planned.pop(0)
            return Response("try again" if status >= 500 else "no", status, headers=headers)
        return JSONResponse({"id": f"gw-{len(self.requests)}"})

    def to(self, path: str) -> list[tuple[dict[str, str], bytes]]:
        return [(headers, body) for p, headers, body, _ in self.requests if p == path]

    def times(self, path: str) -> list[float]:
        return [at for p, _, _, at in self.requests if p == path]


@dataclass
class RunningNotify:
    settings: Settings
    mailbox: Mailbox
    gateway: Gateway
    publisher: Service
    url: str

    async def send(self, *events: Any) -> None:
        await self.publisher.bus.publish(*events)


async def wait_for(check: Any, within_s: float = 15.0) -> Any:
    deadline = asyncio.get_running_loop().time() + within_s
    while not (found := check()):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("waited in vain")
        await asyncio.sleep(0.05)
    return found


@asynccontextmanager
async def running_notify(
    backend: Any, tmp_path: Any, environment: dict[str, Any] | None = None, **notify_policy: Any
) -> AsyncIterator[RunningNotify]:
    """Notify with the policy's `notify` section `notify_policy` and settings `environment`."""
    mailbox, gateway = Mailbox(), Gateway()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    gateway_port, notify_port = free_port(), free_port()
    web = Starlette(routes=[Route("/{path:path}", gateway.receive, methods=["POST"])])
    policy = tmp_path / f"policy-{uuid.uuid4().hex[:6]}.yaml"
    # the local gateway is the SMS gateway and the webhook receiver: a private address
    local = {"allow_private": True}
    notify = {"staff": STAFF, "retry_base": "200ms", "sms_gateway": local, **notify_policy}
    for hook in notify.get("webhooks", []):
        hook.update(local, url=f"http://127.0.0.1:{gateway_port}/hook")
    policy.write_text(yaml.safe_dump({"notify": notify, "sla": ESCALATING}), encoding="utf-8")
    settings = isolated_settings(
        backend,
        config=policy,
        smtp_port=smtp.port,
        sms_url=f"http://127.0.0.1:{gateway_port}/sms",
        sms_token="sms-secret",
        api_tokens=f"{TOKEN}:admin,notify-agent-token:agent",
        notify_url=f"http://127.0.0.1:{notify_port}",
        **(environment or {}),
    )
    await create_topics(settings, TEST_PARTITIONS)
    publisher = Service.create("publisher", settings)
    publisher.bus.declare_publishes(
        Topic.TICKET_EVENTS,
        Topic.ROUTING_EVENTS,
        Topic.SLA_EVENTS,
        Topic.SURVEY_EVENTS,
        Topic.NOTIFY_REQUESTS,
        Topic.OPS_EVENTS,
    )
    try:
        async with served(web, gateway_port), served(build(settings), notify_port), publisher.app():
            yield RunningNotify(
                settings, mailbox, gateway, publisher, f"http://127.0.0.1:{notify_port}"
            )
    finally:
        smtp.stop()

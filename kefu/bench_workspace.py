"""`kefu bench`, the workspace part: the desk's reads with many conversations stored.

The store gets `tickets` tickets with their conversations first: canonical events (opened, the
customer's message, the assignment, a public reply, and solved for all but an agent's last
few) go through the workspace's own consumer code (`ConversationRecord.handle`: the fold, the
entries, the search index) in batches, straight into the workspace's collections, without
the broker: the other services need not hold 100,000 tickets to measure the desk. Then, over
HTTP against the running workspace process, as a signed-in person: a ticket's conversation,
a search (a Chinese or an English word), and the person's own tickets, each REQUESTS times,
one request at a time.
"""

import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pymongo import AsyncMongoClient

from kefu.services.workspace.handling import ConversationRecord
from kefu.services.workspace.record_store import RecordStore
from kefu.services.workspace.search_index import TermIndex
from kefu.shared.consumer import Input
from kefu.shared.events import new_event
from kefu.shared.events.routing import TicketAssigned
from kefu.shared.events.ticket import (
    AgentReplied,
    Customer,
    MessageReceived,
    StatusChanged,
    TicketOpened,
)
from kefu.shared.settings import Settings

REQUESTS = 300
BATCH = 400  # tickets a handle call: about 2,000 events, as a busy consumer's batch
AGENTS = 50
OPEN_PER_AGENT = 10  # each agent's last tickets stay open: their desk
SUBJECTS = [
    ("无法登录", "我的账号从早上开始无法登录，提示密码错误"),
    ("申请退款", "我想申请退款，订单已经取消了"),
    ("发票问题", "请帮我开具增值税发票，公司抬头已更新"),
    ("Cannot log in", "Since this morning the login page says my password is wrong"),
    ("Refund please", "I would like a refund for my cancelled order"),
    ("Invoice address", "Please change the billing address on my latest invoice"),
]
WORDS = ["退款", "发票", "登录", "refund", "invoice", "password"]


@dataclass
class _NoBroker:
    """The record publishes nothing of its own; seeding needs no broker."""

    async def publish(self, *events: Any, **_: Any) -> None:
        assert not events


def conversation(number: int, at: datetime, open_from: int) -> list[Any]:
    """One ticket's events: opened, message, assigned (agent-0 is the bench's `admin`), a
    public reply, and solved unless it is one of its agent's last tickets (number // AGENTS
    from `open_from` on)."""
    ticket = f"w{number}"
    agent = f"agent-{number % AGENTS}" if number % AGENTS else "admin"
    subject, text = SUBJECTS[number % len(SUBJECTS)]
    address = f"customer{number % 20000}@bench.example"
    data = [
        TicketOpened(
            ticket_id=ticket,
            channel="email",
            customer=Customer(address=address),
            subject=subject,
            priority="P3",
            category=["general", "inquiry", "other"],
            skills=["general"],
            locale="zh-CN" if number % 2 else "en",
            first_message_id=f"{ticket}-m",
            opened_at=at,
        ),
        MessageReceived.model_validate(
            {
                "ticket_id": ticket,
                "message_id": f"{ticket}-m",
                "channel": "email",
                "from": {"address": address},
                "text": f"{text} (#{number})",
                "received_at": at,
            }
        ),
        TicketAssigned(
            ticket_id=ticket, agent_id=agent, strategy="least_loaded", tier=1, waited_ms=0, at=at
        ),
        AgentReplied(
            ticket_id=ticket, agent_id=agent, command_id=f"{ticket}-r", text="Done.", replied_at=at
        ),
    ]
    if number // AGENTS < open_from:
        data.append(
            StatusChanged.model_validate(
                {"ticket_id": ticket, "from": "open", "to": "solved", "by": agent, "at": at}
            )
        )
    return [
        new_event(one, id=f"bench:{ticket}:{n}", source="kefu/bench", correlationid=ticket)
        for n, one in enumerate(data)
    ]


async def seed(settings: Settings, tickets: int) -> float:
    """Store `tickets` conversations through the record's own code; the seconds it took."""
    open_from = tickets // AGENTS - OPEN_PER_AGENT
    client: AsyncMongoClient[Any] = AsyncMongoClient(settings.mongodb_url.get_secret_value())
    db = client[settings.mongodb_db]
    record = ConversationRecord(_NoBroker(), RecordStore(db))  # type: ignore[arg-type]
    record.listeners.append(TermIndex(db).add)
    start, first = time.perf_counter(), datetime.now(UTC) - timedelta(days=30)
    try:
        for batch in range(0, tickets, BATCH):
            events = [
                event
                for number in range(batch, min(tickets, batch + BATCH))
                for event in conversation(number, first + timedelta(seconds=number * 20), open_from)
            ]
            await record.handle([Input(None, event) for event in events])  # type: ignore[arg-type]
    finally:
        await client.close()
    return round(time.perf_counter() - start, 1)


async def reads(url: str, password: str, tickets: int) -> dict[str, Any]:
    """p50/p99/max of the three reads, as the bench's admin (an agent with a desk)."""
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        signed_in = await client.post("/v1/sessions", json={"login": "admin", "password": password})
        signed_in.raise_for_status()
        client.headers["Authorization"] = f"Bearer {signed_in.json()['token']}"
        pick = random.Random(7)
        return {
            "conversation": await _timed(
                client, lambda: f"/v1/tickets/w{pick.randrange(tickets)}/conversation"
            ),
            "search": await _timed(client, lambda: f"/v1/search?q={pick.choice(WORDS)}&limit=20"),
            "my_tickets": await _timed(client, lambda: "/v1/me/tickets"),
        }


async def _timed(client: httpx.AsyncClient, path: Any) -> dict[str, float]:
    took = []
    for _ in range(REQUESTS):
        start = time.perf_counter()
        (await client.get(path())).raise_for_status()
        took.append(time.perf_counter() - start)
    took.sort()
    return {
        "p50_ms": round(took[len(took) // 2] * 1000, 1),
        "p99_ms": round(took[int(len(took) * 0.99) - 1] * 1000, 1),
        "max_ms": round(took[-1] * 1000, 1),
    }

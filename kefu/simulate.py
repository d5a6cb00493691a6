"""`kefu simulate`: realistic traffic and agents against a running kefu (contract 5).

Customers write at `--rate` a second (Poisson arrivals, kefu/traffic.py) to channel.inbound;
`--agents` simulated agents go online on agent.inbound with the example policy's skills, and
for every ticket kefu assigns them they reply after a drawn delay and solve it after another;
customers answer a share of the surveys kefu sends, on the survey's own page. A progress line
shows what was sent and what kefu did with it; at the end one JSON object sums it up.
"""

import argparse
import asyncio
import json
import secrets
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from kefu.shared.inbound import ChannelMessage
from kefu.shared.settings import Settings, load_settings
from kefu.shared.topics import Topic, topic_name
from kefu.traffic import SKILLS, Shape, Traffic, reply_text

ASSIGNED, SURVEY_ISSUED = "kefu.ticket.assigned", "kefu.survey.issued"
BROWSERS = 8  # customers on survey pages at once


@dataclass
class Counts:
    sent: int = 0
    assigned: int = 0
    replied: int = 0
    solved: int = 0
    surveys: int = 0
    answered: int = 0
    not_answered: int = 0  # the page refused the answer or did not respond in time
    sent_at: dict[str, float] = field(default_factory=dict)  # correlation id → when sent
    locale: dict[str, str] = field(default_factory=dict)  # correlation id → customer's language
    waits_s: list[float] = field(default_factory=list)  # sent → assigned

    def line(self) -> str:
        return (
            f"sent {self.sent}  assigned {self.assigned}  replied {self.replied}  "
            f"solved {self.solved}  surveys {self.surveys}  answered {self.answered}"
        )

    def work(self) -> dict[str, int]:
        """What the agents and customers did with the tickets kefu gave the agents."""
        done = ("assigned", "replied", "solved", "surveys", "answered", "not_answered")
        return {name: getattr(self, name) for name in done}

    def summary(self) -> dict[str, Any]:
        latency = percentiles_ms(self.waits_s)
        return {"sent": self.sent, **self.work(), "inbound_to_assigned_ms": latency}


def percentiles_ms(latencies_s: list[float]) -> dict[str, float]:
    """p50, p90, p99 and max in milliseconds (empty without values)."""
    if len(latencies_s) < 2:
        return {}
    cuts = statistics.quantiles(latencies_s, n=100, method="inclusive")
    return {
        "p50": _ms(cuts[49]),
        "p90": _ms(cuts[89]),
        "p99": _ms(cuts[98]),
        "max": _ms(max(latencies_s)),
    }


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def tier_of(number: int) -> int:
    """Every fifth simulated agent is at tier 2."""
    return 2 if number % 5 == 4 else 1


def agent_ids(run: str, count: int) -> list[str]:
    return [f"sim-{run}-agent-{number}" for number in range(1, count + 1)]


class Agents:
    """Simulated agents: online with every skill of the example policy; each ticket assigned
    to one of them is replied to and solved after drawn delays; each survey for such a ticket
    may be answered. Works on any kefu, whoever sends the customers' messages."""

    def __init__(
        self, settings: Settings, traffic: Traffic, ids: list[str], capacity: int, counts: Counts
    ) -> None:
        self.settings = settings
        self.traffic = traffic
        self.ids = set(ids)
        self.capacity = capacity
        self.counts = counts
        self.worked: set[str] = set()  # tickets the agents were given
        self._work: set[asyncio.Task[None]] = set()
        self._browsers = asyncio.Semaphore(BROWSERS)

    async def online(self, producer: AIOKafkaProducer, status: str = "online") -> None:
        for number, agent_id in enumerate(sorted(self.ids)):
            presence = {
                "action": "presence",
                "agent_id": agent_id,
                "status": status,
                "skills": list(SKILLS),
                "capacity": self.capacity,
                "tier": tier_of(number),
            }
            await self._send(producer, presence)

    async def follow(
        self, producer: AIOKafkaProducer, ready: asyncio.Event, stop: asyncio.Event
    ) -> None:
        """Work every ticket assigned to one of the agents (`ready` once reading) until
        `stop`."""
        topics = [
            topic_name(self.settings.topic_prefix, topic)
            for topic in (Topic.ROUTING_EVENTS, Topic.SURVEY_EVENTS)
        ]
        consumer = AIOKafkaConsumer(
            *topics,
            bootstrap_servers=self.settings.kafka_bootstrap,
            auto_offset_reset="latest",
            fetch_max_wait_ms=self.settings.kafka_fetch_max_wait_ms,
        )
        await consumer.start()
        try:
            await positioned(consumer)
            ready.set()
            async with httpx.AsyncClient(timeout=30) as web:
                while not stop.is_set():
                    batches = await consumer.getmany(timeout_ms=100)
                    now = time.perf_counter()
                    for records in batches.values():
                        for record in records:
                            self._read(json.loads(record.value), now, producer, web)
        finally:
            await consumer.stop()
            for task in self._work:
                task.cancel()

    def _read(
        self, event: dict[str, Any], now: float, producer: AIOKafkaProducer, web: httpx.AsyncClient
    ) -> None:
        data = event.get("data") or {}
        if event.get("type") == ASSIGNED and data.get("agent_id") in self.ids:
            self.counts.assigned += 1
            cause = event.get("correlationid", "")
            if (sent := self.counts.sent_at.pop(cause, None)) is not None:
                self.counts.waits_s.append(now - sent)
            locale = self.counts.locale.pop(cause, "en")
            self._start(self._work_on(producer, data["ticket_id"], data["agent_id"], locale))
        elif event.get("type") == SURVEY_ISSUED and data.get("ticket_id") in self.worked:
            self.counts.surveys += 1
            if (score := self.traffic.survey_score()) is not None:
                self._start(self._answer(web, data["url"], score))

    def _start(self, work: Any) -> None:
        task = asyncio.create_task(work)
        self._work.add(task)
        task.add_done_callback(self._work.discard)

    async def _work_on(
        self, producer: AIOKafkaProducer, ticket_id: str, agent_id: str, locale: str
    ) -> None:
        self.worked.add(ticket_id)
        await asyncio.sleep(self.traffic.reply_after_s())
        reply = {"action": "reply", "ticket_id": ticket_id, "text": reply_text(locale)}
        await self._send(producer, {**reply, "agent_id": agent_id, "command_id": _id()})
        self.counts.replied += 1
        await asyncio.sleep(self.traffic.solve_after_s())
        solve = {"action": "set_status", "ticket_id": ticket_id, "status": "solved"}
        await self._send(producer, {**solve, "agent_id": agent_id, "command_id": _id()})
        self.counts.solved += 1

    async def _answer(self, web: httpx.AsyncClient, url: str, score: int) -> None:
        async with self._browsers:
            try:
                answered = await web.post(url, data={"score": str(score), "comment": ""})
            except httpx.HTTPError:
                answered = None
        if answered is not None and answered.status_code == 200:
            self.counts.answered += 1
        else:
            self.counts.not_answered += 1

    async def _send(self, producer: AIOKafkaProducer, command: dict[str, Any]) -> None:
        topic = topic_name(self.settings.topic_prefix, Topic.AGENT_INBOUND)
        await producer.send(topic, json.dumps(command).encode(), key=command["agent_id"].encode())


def _id() -> str:
    return uuid.uuid4().hex


async def positioned(consumer: AIOKafkaConsumer) -> None:
    """Wait for the partitions and their end offsets, so nothing sent later is missed."""
    while not consumer.assignment():
        await consumer.getmany(timeout_ms=100)
    for partition in consumer.assignment():
        await consumer.position(partition)


async def send_customers(
    settings: Settings,
    producer: AIOKafkaProducer,
    traffic: Traffic,
    counts: Counts,
    until: Callable[[], bool],
) -> None:
    """Customer messages at the traffic's rate, Poisson arrivals, until `until()`."""
    topic = topic_name(settings.topic_prefix, Topic.CHANNEL_INBOUND)
    due = time.perf_counter()
    while not until():
        due += traffic.gap_s()
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        message = ChannelMessage.model_validate(traffic.message())
        counts.sent_at[message.dedupe_key] = time.perf_counter()
        counts.locale[message.dedupe_key] = message.locale or "en"
        raw = message.model_dump_json(by_alias=True, exclude_none=True).encode()
        await producer.send(topic, raw, key=message.partition_key().encode())
        counts.sent += 1


async def progress(counts: Counts, stop: asyncio.Event, every_s: float = 1.0) -> None:
    """One line, rewritten in place on a terminal; a line every few seconds otherwise."""
    live = sys.stderr.isatty()
    every_s = every_s if live else 5 * every_s
    while not stop.is_set():
        await asyncio.sleep(every_s)
        sys.stderr.write(f"\r{counts.line()}" if live else f"{counts.line()}\n")
        sys.stderr.flush()
    if live:
        sys.stderr.write("\n")


async def simulate(
    settings: Settings,
    traffic: Traffic,
    *,
    agents: int,
    capacity: int,
    duration_s: float,
    drain_s: float,
    count: int | None = None,
) -> dict[str, Any]:
    """Run the simulation: agents online, customers for `duration_s` (or `count` messages),
    then `drain_s` more for the agents to finish, then the agents go offline."""
    counts, stop = Counts(), asyncio.Event()
    team = Agents(settings, traffic, agent_ids(traffic.run, agents), capacity, counts)
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        ready = asyncio.Event()
        working = asyncio.create_task(team.follow(producer, ready, stop))
        await asyncio.wait_for(ready.wait(), timeout=60)
        await team.online(producer)
        shown = asyncio.create_task(progress(counts, stop))
        ends = time.perf_counter() + duration_s

        def done() -> bool:
            return time.perf_counter() >= ends or (count is not None and counts.sent >= count)

        await send_customers(settings, producer, traffic, counts, done)
        await asyncio.sleep(drain_s)
        stop.set()
        await asyncio.gather(working, shown)
        await team.online(producer, "offline")
        await producer.flush()
    finally:
        await producer.stop()
    return {
        "run": traffic.run,
        "agents": agents,
        "rate_per_s": traffic.shape.rate,
        **counts.summary(),
    }


def add_parsers(commands: Any) -> None:
    simulate_ = commands.add_parser(
        "simulate", help="realistic customers and agents against a running kefu (KEFU_*)"
    )
    simulate_.add_argument("--rate", type=float, default=2.0, help="new messages a second")
    simulate_.add_argument("--duration", type=float, default=60, help="seconds of customers")
    simulate_.add_argument("--count", type=int, help="stop after this many messages")
    simulate_.add_argument("--agents", type=int, default=10, help="simulated agents online")
    simulate_.add_argument("--capacity", type=int, default=5, help="tickets each agent holds")
    simulate_.add_argument("--reply", type=float, default=20, help="mean seconds to a reply")
    simulate_.add_argument("--solve", type=float, default=30, help="mean seconds, reply to solved")
    simulate_.add_argument("--follow-up", type=float, default=0.15, help="share of follow-ups")
    simulate_.add_argument("--chinese", type=float, default=0.5, help="share written in Chinese")
    simulate_.add_argument("--surveys", type=float, default=0.3, help="share of surveys answered")
    simulate_.add_argument("--drain", type=float, default=None, help="seconds to finish work")
    simulate_.add_argument("--seed", type=int, default=None, help="the same seed, the same run")


def run_simulate(args: argparse.Namespace) -> int:
    shape = Shape(
        rate=args.rate,
        follow_up=args.follow_up,
        chinese=args.chinese,
        reply_s=args.reply,
        solve_s=args.solve,
        survey_answered=args.surveys,
    )
    seed = args.seed if args.seed is not None else secrets.randbits(32)
    traffic = Traffic(shape, seed, uuid.uuid4().hex[:8])
    drain = args.drain if args.drain is not None else 3 * (args.reply + args.solve)
    result = asyncio.run(
        simulate(
            load_settings(),
            traffic,
            agents=args.agents,
            capacity=args.capacity,
            duration_s=args.duration,
            drain_s=drain,
            count=args.count,
        )
    )
    print(json.dumps({"seed": seed, **result}, ensure_ascii=False))
    return 0

"""`kefu bench`: kefu's throughput and latency next to the raw broker's, in one run, as
users run kefu: every service running, the example policy (an SLA on every ticket), agents at
work and tickets already in the store.

On a fresh embedded stack (or the KEFU_* servers with --use-env), the seven services start as
their own processes (`kefu run …`, as `kefu up` starts them), then `--seed` customer messages
go through first so the store already holds that many tickets (waiting in the queue for a
skill nobody has: a backlog). `kefu simulate`'s agents go online and reply to and solve every
ticket they are given, and customers answer some surveys. Loads then go through the same
broker, each as a burst (throughput) and then paced at --rate (latency percentiles):
- raw: values produced to a bench topic and consumed back; what the broker alone does here;
- kefu: customer messages to channel.inbound, timed to `kefu.ticket.message_received`;
- routed: `kefu simulate`'s customers (channel mix, Chinese and English, tiers), each a new
  ticket, timed to `kefu.ticket.assigned`: intake, router and three hops;
- mail in: mails over SMTP into `kefu adapter smtp`, timed to message_received.
kefu's records are timed to their own timestamps (when kefu published them), so the measuring
consumer's lag does not count. Every service's /metrics and /proc give store commands, the
documents they write, CPU and memory per message during each burst. The result is one JSON
object on stdout; the ratios are kefu ÷ raw.
"""

import asyncio
import json
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client.parser import text_string_to_metric_families

from kefu.bench_mail import measure_mail
from kefu.bench_timers import POLICY as timers_policy
from kefu.bench_timers import run_timers
from kefu.bench_workspace import reads as workspace_reads
from kefu.bench_workspace import seed as seed_workspace
from kefu.embedded import (
    PARTITIONS,
    EmbeddedStack,
    Process,
    free_ports,
    start_service,
    wait_ready,
)
from kefu.shared.admin import create_topics
from kefu.shared.bus import client_options
from kefu.shared.inbound import ChannelMessage
from kefu.shared.service import SERVICES
from kefu.shared.settings import SIGNING_SECRETS, Settings, load_settings
from kefu.shared.topics import Topic, all_topic_names, topic_name
from kefu.simulate import Agents, Counts, agent_ids, percentiles_ms, positioned, tier_of
from kefu.traffic import Shape, Traffic

RAW_TOPIC = "bench.raw"
BACKLOG_KEYWORD = "benchbacklog"
BACKLOG_RULE = {"keywords": [BACKLOG_KEYWORD], "set": {"skills": ["backlog"]}}
BENCH_AGENTS = 20
TEXT = "My order has not arrived and the tracking page is down."
TRAFFIC_SEED = 2026  # every run draws the same customers
AGENTS_AT_WORK = Shape(rate=1, reply_s=0.5, solve_s=1.0, survey_answered=0.3)
QUIET_S = 2.0
SETTLED_S = 5.0  # longer than a scheduler's recheck (2 s): writes stopped, not paused
IDLE_S = 10.0  # at rest, before the loads: what the stack costs doing nothing
WRITTEN = "written:"  # a scraped total of documents written to one collection
Value = tuple[str, bytes, bytes]  # id, key, value
Received = Callable[[bytes, float], list[tuple[str, float]]]  # a record → (value id, when)


@dataclass
class Load:
    name: str
    topic: str
    read_topics: tuple[str, ...]
    make: Callable[[str], Value]
    received: "Received"
    stamped: bool = True  # timed to the record's own timestamp, when kefu published it


@dataclass(frozen=True)
class Workspace:
    tickets: int  # conversations stored before the desk's reads are measured
    password: str  # the bench's admin, who reads


@dataclass
class Run:
    latencies_s: list[float]
    elapsed_s: float  # first send to last arrival


async def measure(settings: Settings, load: Load, count: int, rate: float | None) -> Run:
    """Send `count` values, as fast as possible or `rate` a second, and time their return."""
    values = [load.make(f"{load.name}-{uuid.uuid4().hex[:12]}") for _ in range(count)]
    sent: dict[str, float] = {}
    consumer = AIOKafkaConsumer(
        *load.read_topics,
        bootstrap_servers=settings.kafka_bootstrap,
        auto_offset_reset="latest",
        fetch_max_wait_ms=settings.kafka_fetch_max_wait_ms,  # what the services use
    )
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    await consumer.start()
    await producer.start()
    try:
        await positioned(consumer)
        arriving = asyncio.create_task(arrivals(consumer, load.received, sent, count, load.stamped))
        start = time.perf_counter()
        acks = []
        for index, (value_id, key, value) in enumerate(values):
            if rate:
                await asyncio.sleep(max(0.0, start + index / rate - time.perf_counter()))
            sent[value_id] = time.perf_counter()
            acks.append(await producer.send(load.topic, value, key=key))
        await asyncio.gather(*acks)
        arrived = await asyncio.wait_for(arriving, timeout=60 + count / 20)
    finally:
        await producer.stop()
        await consumer.stop()
    return Run(
        latencies_s=[arrived[value_id] - sent[value_id] for value_id in arrived],
        elapsed_s=max(arrived.values()) - start,
    )


async def arrivals(
    consumer: AIOKafkaConsumer,
    received: Received,
    sent: dict[str, float],
    count: int,
    stamped: bool = True,
) -> dict[str, float]:
    """When each of `count` values that `sent` holds came back, as `received` knows it
    (perf_counter seconds): `stamped`, when the record was published (its timestamp, so the
    measuring consumer's own lag does not count); else when it was read."""
    arrived: dict[str, float] = {}
    wall_to_perf = time.perf_counter() - time.time()
    while len(arrived) < count:
        batches = await consumer.getmany(timeout_ms=100)
        now = time.perf_counter()
        for records in batches.values():
            for record in records:
                at = record.timestamp / 1000 + wall_to_perf if stamped else now
                for value_id, when in received(record.value, at):
                    if value_id in sent and value_id not in arrived:
                        arrived[value_id] = max(when, sent[value_id])
    return arrived


def raw_load(settings: Settings) -> Load:
    topic = f"{settings.topic_prefix}{RAW_TOPIC}"
    return Load(
        name="raw",
        topic=topic,
        read_topics=(topic,),
        make=lambda value_id: (value_id, value_id.encode(), json.dumps({"id": value_id}).encode()),
        received=lambda value, at: [(json.loads(value)["id"], at)],
        stamped=False,  # its records are the bench's own: timed as read back
    )


def customer_messages(text: str) -> Callable[[str], Value]:
    def customer_message(value_id: str) -> Value:
        address = f"{value_id}@bench.example"
        message = {
            "channel": "email",
            "message_id": value_id,
            "from": {"address": address},
            "subject": "Bench",
            "text": text,
        }
        return f"email:{value_id}", f"email:{address}".encode(), json.dumps(message).encode()

    return customer_message


def correlation_of(event_type: str) -> Received:
    def received(value: bytes, at: float) -> list[tuple[str, float]]:
        event = json.loads(value)
        return [(event.get("correlationid"), at)] if event.get("type") == event_type else []

    return received


class Assignments:
    """Each message's ticket assigned, whatever caused the assignment: a ticket that waited in
    the queue is assigned in the chain of whatever freed the slot, so tickets are matched to
    messages through their `opened` (either may be read first: two topics)."""

    def __init__(self) -> None:
        self.message_of: dict[str, str] = {}  # ticket → the message that opened it
        self.assigned_at: dict[str, float] = {}  # ticket → assigned, its message not yet seen

    def __call__(self, value: bytes, at: float) -> list[tuple[str, float]]:
        event = json.loads(value)
        ticket = (event.get("data") or {}).get("ticket_id")
        if event.get("type") == "kefu.ticket.opened":
            self.message_of[ticket] = event["correlationid"]
            early = self.assigned_at.pop(ticket, None)
            return [(event["correlationid"], early)] if early is not None else []
        if event.get("type") == "kefu.ticket.assigned":
            if ticket in self.message_of:
                return [(self.message_of[ticket], at)]
            self.assigned_at.setdefault(ticket, at)
        return []


def kefu_load(settings: Settings, text: str = TEXT) -> Load:
    return Load(
        name="kefu",
        topic=topic_name(settings.topic_prefix, Topic.CHANNEL_INBOUND),
        read_topics=(topic_name(settings.topic_prefix, Topic.TICKET_EVENTS),),
        make=customer_messages(text),
        received=correlation_of("kefu.ticket.message_received"),
    )


def routed_load(settings: Settings, traffic: Traffic) -> Load:
    """`kefu simulate`'s customers (every message a new ticket), until `assigned`."""

    def simulated(_: str) -> Value:
        message = ChannelMessage.model_validate(traffic.message())
        raw = message.model_dump_json(by_alias=True, exclude_none=True).encode()
        return message.dedupe_key, message.partition_key().encode(), raw

    return Load(
        name="routed",
        topic=topic_name(settings.topic_prefix, Topic.CHANNEL_INBOUND),
        read_topics=tuple(
            topic_name(settings.topic_prefix, topic)
            for topic in (Topic.TICKET_EVENTS, Topic.ROUTING_EVENTS)
        ),
        make=simulated,
        received=Assignments(),
    )


def bench_policy(folder: Path, example: Path) -> Path:
    """The example policy (an SLA on every ticket), with what the bench needs on top: the
    seeded tickets ask for the `backlog` skill, which no agent has, so they wait in the queue
    as a backlog instead of taking the agents' room; no daily limit per agent, so 20 agents
    can take every ticket of the run; no quiet hours, so every mail is sent whatever the hour
    (in the example's, 14:00-24:00 UTC, customers' mails wait for the morning: a run then
    would measure less work); and the timer phases' own SLA (kefu/bench_timers.py)."""
    policy = yaml.safe_load(example.read_text(encoding="utf-8")) or {}
    classification = policy.setdefault("classification", {})
    classification["rules"] = [BACKLOG_RULE, *classification.get("rules", [])]
    policy.setdefault("routing", {})["daily_limit"] = None
    policy.setdefault("notify", {})["quiet_hours"] = None
    sla = policy.setdefault("sla", {})
    sla["policies"] = [timers_policy, *sla.get("policies", [])]
    path = folder / "bench-policy.yaml"
    path.write_text(json.dumps(policy), encoding="utf-8")
    return path


def summary(burst: Run, paced: Run) -> dict[str, Any]:
    return {
        "throughput_per_s": round(len(burst.latencies_s) / burst.elapsed_s, 1),
        "burst_latency_ms": {"p50": round(statistics.median(burst.latencies_s) * 1000, 1)},
        "latency_ms": percentiles_ms(paced.latencies_s),
    }


async def caught_up(
    settings: Settings, within_s: float = 300, services: tuple[str, ...] = SERVICES
) -> float:
    """Wait until every service (of `services`) has read what was sent (its group's committed
    offsets stop moving for QUIET_S once nothing new is sent; Tansu's end offsets cannot be
    trusted), so that measurements see a steady state, not a backlog; how long that took."""
    admin = AIOKafkaAdminClient(**client_options(settings))
    reader = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    await reader.start()
    started = time.perf_counter()
    try:
        await reader.topics()  # metadata for partitions_for_topic
        last, quiet_since = -1, time.perf_counter()
        while time.perf_counter() - started < within_s:
            total = await _committed(admin, reader, settings, services)
            if total != last:
                last, quiet_since = total, time.perf_counter()
            elif time.perf_counter() - quiet_since >= QUIET_S:
                break
            await asyncio.sleep(0.25)
        return round(time.perf_counter() - started - QUIET_S, 1)
    finally:
        await reader.stop()
        await admin.close()


async def settled(services: dict[str, Process], within_s: float) -> float:
    """Wait until no service has written to its store for SETTLED_S: what the seed set off
    (its acknowledgement mails above all, sent after every service has read it) is done, so
    the loads run on stored data, not beside a backlog of mail; how long that took."""
    started = time.perf_counter()
    last, quiet_since = -1.0, started
    while time.perf_counter() - started < within_s:
        taken = await asyncio.to_thread(
            lambda: [scrape(p)["store_documents"] for n, p in services.items() if n in SERVICES]
        )
        if sum(taken) != last:
            last, quiet_since = sum(taken), time.perf_counter()
        elif time.perf_counter() - quiet_since >= SETTLED_S:
            break
        await asyncio.sleep(0.5)
    return round(time.perf_counter() - started - SETTLED_S, 1)


async def _committed(
    admin: AIOKafkaAdminClient,
    reader: AIOKafkaConsumer,
    settings: Settings,
    services: tuple[str, ...],
) -> int:
    """All the offsets the services' groups have committed, over every kefu topic."""
    names = all_topic_names(settings.topic_prefix)
    partitions = [
        TopicPartition(name, partition)
        for name in names
        for partition in reader.partitions_for_topic(name) or ()
    ]
    total = 0
    for service in services:
        group = f"{settings.topic_prefix}{service}"
        committed = await admin.list_consumer_group_offsets(group, partitions=partitions)
        total += sum(meta.offset for meta in committed.values() if meta.offset > 0)
    return total


def scrape(process: Process) -> dict[str, float]:
    """The totals bench reads from a service's /metrics (documents written to each collection
    under `WRITTEN` and its name)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{process.port}/metrics", timeout=5) as reply:
        text = reply.read().decode()
    totals = dict.fromkeys(("store_commands", "store_documents", "store_read", "cpu_s"), 0.0)
    totals["rss_mb"] = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "kefu_store_commands_total":
                totals["store_commands"] += sample.value
            elif sample.name == "kefu_store_documents_written_total":
                totals["store_documents"] += sample.value
                written = f"{WRITTEN}{sample.labels['collection']}"
                totals[written] = totals.get(written, 0.0) + sample.value
            elif sample.name == "kefu_store_documents_read_total":
                totals["store_read"] += sample.value
            elif sample.name == "process_cpu_seconds_total":
                totals["cpu_s"] += sample.value
            elif sample.name == "process_resident_memory_bytes":
                totals["rss_mb"] = round(sample.value / 2**20, 1)
    return totals


def cpu_seconds(pid: int) -> float:
    """A child process's CPU time so far (user + system), from /proc on Linux."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def costs(
    before: dict[str, dict[str, float]], after: dict[str, dict[str, float]], messages: int
) -> dict[str, Any]:
    """Store commands, documents written and read per message (per service), CPU per message (per
    process, the broker and the store included) and memory, over a burst."""

    def per_message(name: str, key: str, scale: float = 1) -> float:
        return round((after[name][key] - before[name][key]) * scale / messages, 3)

    services = [name for name in after if name in SERVICES]
    return {
        "store_commands_per_message": {
            name: per_message(name, "store_commands") for name in services
        },
        "store_documents_written_per_message": {
            name: per_message(name, "store_documents") for name in services
        },
        "store_documents_read_per_message": {
            name: per_message(name, "store_read") for name in services
        },
        "store_documents_written_per_message_by_collection": by_collection(
            before, after, services, messages
        ),
        "all_services_cpu_ms_per_message": round(
            sum(per_message(name, "cpu_s", 1000) for name in services), 3
        ),
        "cpu_ms_per_message": {name: per_message(name, "cpu_s", 1000) for name in after},
        "rss_mb": {name: after[name]["rss_mb"] for name in services},
    }


def by_collection(
    before: dict[str, dict[str, float]],
    after: dict[str, dict[str, float]],
    services: list[str],
    messages: int,
) -> dict[str, float]:
    """Documents written per message to each collection, most first."""
    written: dict[str, float] = {}
    for name in services:
        for key, total in after[name].items():
            if key.startswith(WRITTEN):
                change = total - before[name].get(key, 0.0)
                collection = key.removeprefix(WRITTEN)
                written[collection] = written.get(collection, 0.0) + change / messages
    return {c: round(n, 3) for c, n in sorted(written.items(), key=lambda kv: -kv[1]) if n}


def snapshot(services: dict[str, Process], servers: list[Process]) -> dict[str, dict[str, float]]:
    """Every service's /metrics totals, and the CPU of the embedded servers."""
    taken = {name: scrape(process) for name, process in services.items()}
    for server in servers:
        product = server.name.partition("(")[2].rstrip(")") or server.name  # tansu, nx-27017
        taken[product] = {"cpu_s": cpu_seconds(server.popen.pid)}
    return taken


async def idle_cpu(services: dict[str, Process], servers: list[Process]) -> dict[str, float]:
    """Per cent of one core each process takes while nothing arrives: what the stack costs
    at rest (fetches waiting, heartbeats, timers' and marks' loops)."""
    before = snapshot(services, servers)
    await asyncio.sleep(IDLE_S)
    after = snapshot(services, servers)
    used = {name: after[name]["cpu_s"] - before[name]["cpu_s"] for name in after}
    return {name: round(100 * seconds / IDLE_S, 1) for name, seconds in used.items()}


async def run_loads(
    settings: Settings,
    services: dict[str, Process],
    servers: list[Process],
    messages: int,
    rate: float,
    seed: int,
    timers: list[int],
    workspace: Workspace | None,
) -> dict[str, Any]:
    backlog = kefu_load(settings, f"{BACKLOG_KEYWORD}: {TEXT}")
    say(f"storing {seed} tickets first")
    seeded = await measure(settings, backlog, seed, rate=None) if seed else None
    caught_up_s = await caught_up(settings, within_s=300 + seed / 20)  # a big seed takes minutes
    settled_s = await settled(services, within_s=300 + seed / 20) if seed else 0.0
    say(f"at rest for {IDLE_S:g} s")
    results: dict[str, Any] = {"idle": await idle_cpu(services, servers)}
    traffic = Traffic(Shape(rate=rate, follow_up=0), TRAFFIC_SEED, uuid.uuid4().hex[:8])
    first_tier = sum(tier_of(number) == 1 for number in range(BENCH_AGENTS))  # take tier 1
    async with agents_at_work(settings, (messages + 100) // first_tier + 1) as work:
        for load in (raw_load(settings), kefu_load(settings), routed_load(settings, traffic)):
            say(f"{load.name}: {messages} at once, then {rate:g}/s")
            await measure(settings, load, 20, rate=None)  # warm-up: connections, group, caches
            before = snapshot(services, servers)
            burst = await measure(settings, load, messages, rate=None)
            after = snapshot(services, servers)
            if load.name == "kefu":  # how soon the desk shows the burst's tickets
                behind = await caught_up(settings, services=("workspace",))
                results.setdefault("workspace", {})["caught_up_after_kefu_burst_s"] = behind
            await caught_up(settings)  # latency at a steady rate, not behind a backlog
            paced = await measure(settings, load, max(2, int(rate * 5)), rate=rate)
            results[load.name] = summary(burst, paced)
            if load.stamped:
                results[load.name]["burst_costs"] = costs(before, after, messages)
        say(f"mail in: {messages} mails at once, then {rate:g}/s")
        results["mail_in"] = await mail_phase(settings, services["mail-in"], messages, rate)
        await caught_up(settings)
    results["agents"] = work.work()
    if seeded:
        results["kefu"]["seed_throughput_per_s"] = round(seed / seeded.elapsed_s, 1)
        results["kefu"]["seed_caught_up_s"] = caught_up_s
        results["kefu"]["seed_settled_s"] = settled_s
    if timers:
        say(f"SLA timers: {', '.join(map(str, timers))} armed")

        def sla_memory() -> float:
            return scrape(services["sla"])["rss_mb"]

        results["sla_timers"] = await run_timers(settings, timers, caught_up, sla_memory)
    if workspace:
        say(f"the desk's reads, {workspace.tickets} conversations stored")
        stored_s = await seed_workspace(settings, workspace.tickets)
        url = f"http://127.0.0.1:{services['workspace'].port}"
        results.setdefault("workspace", {}).update(
            tickets_stored=workspace.tickets,
            seed_s=stored_s,
            reads=await workspace_reads(url, workspace.password, workspace.tickets),
        )
    return results


def say(what: str) -> None:
    """Where the bench is, on stderr (stdout is the JSON)."""
    print(f"kefu bench: {what}", file=sys.stderr, flush=True)


@asynccontextmanager
async def agents_at_work(settings: Settings, capacity: int) -> AsyncIterator[Counts]:
    """`kefu simulate`'s agents, online with room for a burst, replying to and solving every
    ticket they are given (customers answering some surveys) while the loads run."""
    counts, ready, stop = Counts(), asyncio.Event(), asyncio.Event()
    traffic = Traffic(AGENTS_AT_WORK, TRAFFIC_SEED, "bench")
    team = Agents(settings, traffic, agent_ids("bench", BENCH_AGENTS), capacity, counts)
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        working = asyncio.create_task(team.follow(producer, ready, stop))
        await asyncio.wait_for(ready.wait(), timeout=60)
        await team.online(producer)
        await producer.flush()
        yield counts
        stop.set()
        await working
    finally:
        await producer.stop()


async def mail_phase(
    settings: Settings, adapter: Process, messages: int, rate: float
) -> dict[str, Any]:
    """Mails over SMTP through `kefu adapter smtp` until message_received: a burst, then a
    steady rate."""
    port = int(adapter.command[-1])
    await measure_mail(settings, port, 20, rate=None)  # warm-up
    await caught_up(settings)
    burst = Run(*await measure_mail(settings, port, messages, rate=None))
    await caught_up(settings)
    paced = Run(*await measure_mail(settings, port, max(2, int(rate * 5)), rate=rate))
    return summary(burst, paced)


def ratios(raw: dict[str, Any], load: dict[str, Any]) -> dict[str, float]:
    return {
        "throughput": round(load["throughput_per_s"] / raw["throughput_per_s"], 3),
        "p50_latency": round(load["latency_ms"]["p50"] / raw["latency_ms"]["p50"], 2),
        "p99_latency": round(load["latency_ms"]["p99"] / raw["latency_ms"]["p99"], 2),
    }


def report(results: dict[str, Any], messages: int, rate: float, seed: int, backend: str) -> dict:
    timers = results.get("sla_timers")
    raw = results["raw"]
    return {
        "benchmark": "channel.inbound → intake → router → kefu.ticket.assigned (routed), and "
        "channel.inbound → intake → kefu.ticket.message_received (kefu); the example policy "
        f"(an SLA on every ticket), {BENCH_AGENTS} simulated agents replying and solving, "
        "customers answering surveys, mail to the SMTP sink, every service running; latency "
        "to the record kefu published (its timestamp)",
        "backend": backend,
        "services_running": list(SERVICES),
        "tickets_stored_before": seed,
        "messages": messages,
        "paced_rate_per_s": rate,
        "cpus": os.cpu_count(),
        "idle_benchmark": f"per cent of one core each process took over {IDLE_S:g} s with "
        "nothing arriving, after the stored tickets were settled",
        "idle_cpu_percent": results["idle"],
        "raw_broker": raw,
        "routed": results["routed"],
        "routed_ratio": ratios(raw, results["routed"]),
        "kefu": results["kefu"],
        "ratio": ratios(raw, results["kefu"]),
        "agents": results["agents"],
        "mail_in_benchmark": "customer mails over SMTP (4 connections) → kefu adapter smtp → "
        "channel.inbound → intake → message_received",
        "mail_in": results["mail_in"],
        "mail_in_ratio": ratios(raw, results["mail_in"]),
        **(
            {
                "workspace_benchmark": "the desk's reads over HTTP as a signed-in person, with "
                "the conversations of tickets_stored tickets in the store; caught_up_*: seconds "
                "after a burst until the workspace's group stops moving (its lag is 0)",
                "workspace": results["workspace"],
            }
            if "workspace" in results
            else {}
        ),
        **(
            {
                "sla_timers_benchmark": "durable timers: armed in MongoDB, fired as "
                "kefu.sla.breached; lateness after the due time",
                "sla_timers": timers,
            }
            if timers
            else {}
        ),
    }


@contextmanager
def all_services(env: dict[str, str], log_dir: Path) -> Iterator[dict[str, Process]]:
    """Every service and the SMTP adapter, as processes; the survey's page is the public URL
    (the simulated customers answer there)."""
    names = (*SERVICES, "mail-in", "smtp-in")
    ports = dict(zip(names, free_ports(len(names)), strict=True))
    env = {**env, "KEFU_PUBLIC_URL": f"http://127.0.0.1:{ports['survey']}"}
    started: dict[str, Process] = {}
    try:
        for name in SERVICES:
            started[name] = start_service(name, ports[name], env, log_dir)
        mail_in = ("adapter", "smtp", "--host", "127.0.0.1", "--port", str(ports["smtp-in"]))
        started["mail-in"] = start_service("mail-in", ports["mail-in"], env, log_dir, mail_in)
        for process in started.values():
            wait_ready(process, log_dir / f"{process.name}.log")
        yield started
    finally:
        for process in started.values():
            process.stop(timeout=15)


def bench(
    messages: int,
    rate: float,
    seed: int,
    use_env: bool,
    timers: list[int],
    workspace_tickets: int,
    policy: Path,
    runs: int = 1,
) -> list[dict[str, Any]]:
    """`runs` runs on one stack: the seed is stored once, before the first (a big seed takes
    longer than the runs); each run's report."""
    run = uuid.uuid4().hex[:8]
    names = {"KEFU_TOPIC_PREFIX": f"bench{run}.", "KEFU_MONGODB_DB": f"kefu_bench_{run}"}
    with kept_if_failed(tempfile.mkdtemp(prefix="kefu-bench-")) as tmp:
        stack = None if use_env else EmbeddedStack(Path(tmp), *free_ports(3))
        env = {**names, **(stack.start().env() if stack else {})}
        try:
            settings = load_settings(
                **{key.removeprefix("KEFU_").lower(): value for key, value in env.items()}
            )
            asyncio.run(
                _create_topics(settings, settings.topic_partitions if use_env else PARTITIONS)
            )
            service_env = {
                **os.environ,
                **env,
                "KEFU_LOG_LEVEL": "WARNING",
                "KEFU_CONFIG": str(bench_policy(Path(tmp), policy)),
                **{name: os.environ.get(name) or secrets.token_hex(24) for name in SIGNING_SECRETS},
                "KEFU_ADMIN_PASSWORD": secrets.token_hex(12),
            }
            desk = Workspace(workspace_tickets, service_env["KEFU_ADMIN_PASSWORD"])
            backend = "KEFU_* servers" if use_env else "embedded: Tansu + nx-27017"
            reports = []
            with all_services(service_env, Path(tmp) / "logs") as services:
                servers = stack.processes if stack else []
                for earlier in range(runs):
                    results = asyncio.run(
                        run_loads(
                            settings,
                            services,
                            servers,
                            messages,
                            rate,
                            0 if earlier else seed,
                            timers,
                            desk if workspace_tickets else None,
                        )
                    )
                    reports.append(report(results, messages, rate, seed, backend))
                    reports[-1]["runs_before_on_this_stack"] = earlier
                    if runs > 1:
                        say(f"run {earlier + 1} of {runs} on this stack done")
            return reports
        finally:
            if stack:
                stack.stop()


@contextmanager
def kept_if_failed(path: str) -> Iterator[str]:
    """A run's directory (the servers' and services' logs, the store), removed after a run
    that worked and kept, with a word on stderr, after one that failed."""
    try:
        yield path
    except BaseException:
        say(f"failed; the logs and data of this run are kept in {path}")
        raise
    shutil.rmtree(path, ignore_errors=True)


async def _create_topics(settings: Settings, partitions: int) -> None:
    """kefu's topics and the raw broker's, with the partitions users run with: `kefu up`'s on
    the embedded stack, KEFU_TOPIC_PARTITIONS (`kefu topics create`'s) on the KEFU_* servers."""
    await create_topics(settings, partitions)
    await create_topics(settings, partitions, names=[f"{settings.topic_prefix}{RAW_TOPIC}"])


def spread(reports: list[Any]) -> Any:
    """Over several runs' reports: each number as {median, min, max}, lists item by item; the
    rest as the first run had it (the same in every run)."""
    first = reports[0]
    if isinstance(first, dict):
        shared = [key for key in first if all(isinstance(r, dict) and key in r for r in reports)]
        return {key: spread([report[key] for report in reports]) for key in shared}
    if isinstance(first, list) and all(
        isinstance(r, list) and len(r) == len(first) for r in reports
    ):
        return [spread(list(items)) for items in zip(*reports, strict=True)]
    numbers = [r for r in reports if isinstance(r, int | float) and not isinstance(r, bool)]
    if len(numbers) == len(reports) and not isinstance(first, bool):
        return {"median": statistics.median(numbers), "min": min(numbers), "max": max(numbers)}
    return first

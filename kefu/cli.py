"""The `kefu` command: run one service, create topics, bring the whole platform up."""

import argparse
import asyncio
import importlib
import signal
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from kefu import __version__
from kefu.embedded import PARTITIONS
from kefu.shared import collector
from kefu.shared.durations import parse_duration
from kefu.shared.service import SERVICES
from kefu.shared.settings import SettingsError, load_settings
from kefu.shared.topics import Topic

EVENT_TOPICS = [t for t in Topic if t not in (Topic.CHANNEL_INBOUND, Topic.AGENT_INBOUND)]


def run_service(name: str) -> int:
    return serve(f"kefu run {name}", lambda settings: _service_app(name, settings))


def run_adapter(args: argparse.Namespace) -> int:
    """`kefu adapter smtp|imap`: mail in (contract 10)."""
    if args.adapter == "smtp":
        from kefu.adapters.smtp import build as smtp

        return serve("kefu adapter smtp", lambda settings: smtp(settings, args.host, args.port))
    from kefu.adapters.imap import build as imap

    return serve("kefu adapter imap", imap)


def _service_app(name: str, settings: Any) -> Any:
    return importlib.import_module(f"kefu.services.{name}.app").build(settings)


def serve(command: str, build: Callable[[Any], Any]) -> int:
    """Build an ASGI app from the settings and serve it on KEFU_HTTP_HOST:KEFU_HTTP_PORT until
    SIGTERM or SIGINT; a bad setting or policy is exit 2 with the reason."""
    import uvicorn

    from kefu.shared.policy import PolicyError

    try:
        settings = load_settings()
        app = build(settings)
    except (SettingsError, PolicyError) as error:
        print(f"{command}: {error}", file=sys.stderr)
        return 2
    collector.tune()
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=settings.http_host,
            port=settings.http_port,
            lifespan="on",
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=12,
        )
    )
    # uvicorn re-raises the stop signal after its graceful shutdown; a service that stopped
    # cleanly on SIGTERM must exit 0, so that re-raise lands in a handler that does nothing.
    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop_signal, lambda *_: None)
    server.run()
    return 0 if server.started else 1


def topics_create(partitions: int | None, replication_factor: int, dry_run: bool = False) -> int:
    from aiokafka.errors import KafkaError

    from kefu.shared.admin import create_topics, planned_topics

    settings = load_settings()
    partitions = partitions or settings.topic_partitions
    if dry_run:
        for topic in planned_topics(settings, partitions, replication_factor):
            configs = " ".join(f"{k}={v}" for k, v in topic.topic_configs.items())
            print(
                f"{topic.name} partitions={topic.num_partitions} "
                f"replication_factor={topic.replication_factor} {configs}"
            )
        return 0
    try:
        created = asyncio.run(create_topics(settings, partitions, replication_factor))
    except KafkaError as error:  # e.g. more replicas than brokers: say so, no traceback
        print(f"kefu topics create: {error}", file=sys.stderr)
        return 1
    print(f"created {len(created)} topics" + (": " + ", ".join(created) if created else ""))
    return 0


def write_docs(path: Path) -> int:
    from kefu.asyncapi import asyncapi_yaml

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(asyncapi_yaml(), encoding="utf-8")
    print(f"wrote {path}")
    return 0


def run_bench(args: argparse.Namespace) -> int:
    import json

    from kefu.bench import bench, spread
    from kefu.embedded import EmbeddedError

    signal.signal(signal.SIGTERM, signal.default_int_handler)  # stop the stack as Ctrl-C does
    timers = [int(size) for size in args.timers.split(",") if size.strip()]
    options = (args.messages, args.rate, args.seed, args.use_env, timers, args.workspace_tickets)
    stacks, on_each = (1, args.runs) if args.one_stack else (args.runs, 1)
    runs = []
    for stack in range(1, stacks + 1):
        try:
            runs += bench(*options, args.policy, on_each)
        except EmbeddedError as error:  # a server that did not start measured nothing
            print(f"kefu bench: stack {stack} did not start ({error}); once more", file=sys.stderr)
            runs += bench(*options, args.policy, on_each)
        if stacks > 1:
            print(f"kefu bench: run {stack} of {stacks} done", file=sys.stderr)
    result = runs[0] if args.runs == 1 else {"median_of_runs": spread(runs), "runs": runs}
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return 0


def run_report(args: argparse.Namespace) -> int:
    from kefu.report import period_of, write_report

    try:
        period = period_of(args.week, args.month)
    except ValueError as error:
        print(f"kefu report: {error}", file=sys.stderr)
        return 2
    for path in write_report(load_settings(), period, args.out):
        print(f"wrote {path}")
    return 0


def run_events(args: argparse.Namespace) -> int:
    from kefu.streams import print_events

    topics = [Topic(name) for name in args.topic] or EVENT_TOPICS
    return asyncio.run(print_events(load_settings(), topics, args.ticket, args.since, args.follow))


def run_dlq(args: argparse.Namespace) -> int:
    from kefu.streams import dead_letter_line, dead_letters, replay

    settings = load_settings()
    letters = asyncio.run(dead_letters(settings, args.since))
    if args.dlq_command == "list":
        for letter in letters:
            print(dead_letter_line(letter))
        return 0
    chosen = [letter for letter in letters if args.id is None or letter["id"] in args.id]
    if args.id and len(chosen) < len(set(args.id)):
        missing = set(args.id) - {letter["id"] for letter in chosen}
        print(f"kefu dlq replay: no dead letter {', '.join(sorted(missing))}", file=sys.stderr)
        return 1
    print(f"replayed {asyncio.run(replay(settings, chosen))} dead letters")
    return 0


def run_tickets(args: argparse.Namespace) -> int:
    from kefu.tickets import api_token, show_ticket

    url = args.url or load_settings().analytics_url
    return show_ticket(url, api_token(args.token), args.ticket_id)


def since(text: str) -> timedelta:
    try:
        return parse_duration(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"a whole number of at least 1, not {text!r}")
    return int(text)


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="kefu", description="kefu customer-service platform")
    root.add_argument("--version", action="version", version=f"kefu {__version__}")
    commands = root.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run one service")
    run.add_argument("service", choices=SERVICES)
    adapter = commands.add_parser("adapter", help="run a channel adapter: mail in")
    adapters = adapter.add_subparsers(dest="adapter", required=True)
    smtp = adapters.add_parser("smtp", help="an SMTP server for the support mail (its MX)")
    smtp.add_argument("--host", default="0.0.0.0", help="the address to listen on")
    smtp.add_argument("--port", type=int, default=2525)
    adapters.add_parser("imap", help="read the mailbox KEFU_IMAP_URL")
    topics = commands.add_parser("topics", help="manage topics")
    topics_commands = topics.add_subparsers(dest="topics_command", required=True)
    create = topics_commands.add_parser("create", help="create every kefu topic")
    create.add_argument("--partitions", type=int, help="default KEFU_TOPIC_PARTITIONS or 6")
    create.add_argument("--replication-factor", type=int, default=1)
    create.add_argument(
        "--dry-run", action="store_true", help="print the topics and their configs, create none"
    )
    up = commands.add_parser("up", help="the whole platform on this machine, embedded stack")
    up.add_argument("--data-dir", type=Path, default=Path(".kefu"))
    up.add_argument("--kafka-port", type=int, default=9092)
    up.add_argument("--mongo-port", type=int, default=27017)
    up.add_argument("--smtp-port", type=int, default=1025)
    up.add_argument("--http-port", type=int, default=8081, help="first service port")
    up.add_argument(
        "--mail-port", type=int, default=2525, help="kefu adapter smtp: mail in becomes tickets"
    )
    up.add_argument(
        "--keep",
        action="store_true",
        help="keep MongoDB's documents from the last run (the topics start empty anyway)",
    )
    up.add_argument(
        "--partitions",
        type=positive,
        default=PARTITIONS,
        help="each topic's partitions: as many replicas of a service as may share its work",
    )
    bench = commands.add_parser(
        "bench", help="kefu's throughput and latency as users run it, next to the raw broker's"
    )
    bench.add_argument("--messages", type=int, default=2000, help="messages in the burst")
    bench.add_argument("--rate", type=float, default=200, help="paced messages a second")
    bench.add_argument(
        "--seed", type=int, default=20000, help="tickets opened before measuring (data in store)"
    )
    bench.add_argument(
        "--use-env", action="store_true", help="the KEFU_* servers instead of an embedded stack"
    )
    bench.add_argument(
        "--runs", type=int, default=1, help="whole runs; more than one: each figure's median"
    )
    bench.add_argument(
        "--one-stack",
        action="store_true",
        help="the runs on one stack, the seed stored once before the first (a big seed)",
    )
    bench.add_argument(
        "--policy",
        type=Path,
        default=Path("deploy/policy.yaml"),
        help="the policy the tickets are decided by (default: the example policy)",
    )
    bench.add_argument(
        "--timers",
        default="10000,50000",
        help="armed SLA timers to measure fire lateness with (comma-separated; empty: none)",
    )
    bench.add_argument(
        "--workspace-tickets",
        type=int,
        default=100_000,
        help="conversations stored before the desk's reads are measured (0: not measured)",
    )
    report = commands.add_parser("report", help="the weekly or monthly service report")
    which = report.add_mutually_exclusive_group(required=True)
    which.add_argument("--week", help="an ISO week, e.g. 2026-W47")
    which.add_argument("--month", help="a month, e.g. 2026-11")
    report.add_argument("--out", type=Path, default=Path("."), help="where the files go")
    events = commands.add_parser("events", help="print the event stream, one line an event")
    events.add_argument("--follow", "-f", action="store_true", help="keep printing new events")
    events.add_argument(
        "--topic", action="append", default=[], choices=[t.value for t in EVENT_TOPICS]
    )
    events.add_argument("--ticket", help="only this ticket's events")
    events.add_argument("--since", type=since, help="only the last 10m, 2h, 1d, …")
    dlq = commands.add_parser("dlq", help="dead letters: list them, replay them after a fix")
    dlq_commands = dlq.add_subparsers(dest="dlq_command", required=True)
    listing = dlq_commands.add_parser("list", help="every dead letter with its reason")
    listing.add_argument("--since", type=since)
    replaying = dlq_commands.add_parser("replay", help="back to the topic they came from")
    which_letters = replaying.add_mutually_exclusive_group(required=True)
    which_letters.add_argument("--id", action="append", help="a dead letter's id (repeatable)")
    which_letters.add_argument("--since", type=since, help="every dead letter of the last …")
    tickets = commands.add_parser("tickets", help="tickets through the analytics API")
    tickets_commands = tickets.add_subparsers(dest="tickets_command", required=True)
    show = tickets_commands.add_parser("show", help="a ticket's projection and timeline")
    show.add_argument("ticket_id")
    show.add_argument("--url", help="analytics' base URL (default KEFU_ANALYTICS_URL)")
    show.add_argument("--token", help="API token (default KEFU_API_TOKEN or .kefu/api-token)")
    from kefu.people import add_parsers as people_parsers
    from kefu.simulate import add_parsers as simulate_parsers

    people_parsers(commands)
    simulate_parsers(commands)
    docs = commands.add_parser("docs", help="write the AsyncAPI document")
    docs.add_argument("--out", type=Path, default=Path("docs/asyncapi.yaml"))
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        if args.command == "run":
            return run_service(args.service)
        if args.command == "adapter":
            return run_adapter(args)
        if args.command == "topics":
            return topics_create(args.partitions, args.replication_factor, args.dry_run)
        if args.command == "docs":
            return write_docs(args.out)
        if args.command == "bench":
            return run_bench(args)
        if args.command == "report":
            return run_report(args)
        if args.command == "events":
            return run_events(args)
        if args.command == "dlq":
            return run_dlq(args)
        if args.command == "tickets":
            return run_tickets(args)
        if args.command == "simulate":
            from kefu.simulate import run_simulate

            return run_simulate(args)
        if args.command == "people":
            from kefu.people import run_people

            return run_people(args)
        from kefu.up import up

        ports = (args.kafka_port, args.mongo_port, args.smtp_port, args.http_port, args.mail_port)
        return up(args.data_dir, *ports, keep=args.keep, partitions=args.partitions)
    except SettingsError as error:
        print(f"kefu: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

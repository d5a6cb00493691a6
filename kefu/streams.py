"""Operator tools on the event stream: `kefu events` prints events one line each, `kefu dlq
list` shows dead letters with their reasons, `kefu dlq replay` puts them back on the topic
they came from (the consumers drop what they applied before, so a replay takes effect once).

Every reader is a plain consumer without a group: it commits nothing and moves no service's
offsets."""

import base64
import json
import sys
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from kefu.shared.bus import client_options
from kefu.shared.settings import Settings
from kefu.shared.topics import Topic, topic_name
from kefu.terminal import printable

COLOURS = {"ticket": 36, "agent": 34, "routing": 32, "sla": 33, "notify": 35, "survey": 95}
COLOUR_OF_DLQ = 31
SUMMARY_FIELDS = 5
TEXT_SHOWN = 60


async def records(
    settings: Settings, topics: list[Topic], since: timedelta | None, follow: bool
) -> AsyncIterator[Any]:
    """The topics' records from `since` ago (or the start), then, with `follow`, every new
    one until interrupted."""
    consumer = AIOKafkaConsumer(
        **client_options(settings), enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        partitions = await _assign(consumer, [topic_name(settings.topic_prefix, t) for t in topics])
        ends = await consumer.end_offsets(partitions)
        if since is not None:
            await _seek_to_time(consumer, partitions, datetime.now(UTC) - since)
        while True:
            batch = await consumer.getmany(timeout_ms=500)
            for record in sorted((r for rs in batch.values() for r in rs), key=_when):
                yield record
            if not follow and await _at_ends(consumer, ends):
                return
    finally:
        await consumer.stop()


async def _at_ends(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> bool:
    positions = [await consumer.position(tp) for tp in ends]
    return all(position >= end for position, end in zip(positions, ends.values(), strict=True))


async def _assign(consumer: AIOKafkaConsumer, names: list[str]) -> list[TopicPartition]:
    partitions = [
        TopicPartition(name, number)
        for name in names
        for number in sorted(await _partitions_of(consumer, name))
    ]
    consumer.assign(partitions)
    await consumer.seek_to_beginning(*partitions)
    return partitions


async def _partitions_of(consumer: AIOKafkaConsumer, name: str) -> set[int]:
    if name in await consumer.topics():  # fetches the cluster's metadata
        return consumer.partitions_for_topic(name) or set()
    raise SystemExit(f"no topic {name}: is KEFU_TOPIC_PREFIX right? (`kefu topics create`)")


async def _seek_to_time(
    consumer: AIOKafkaConsumer, partitions: list[TopicPartition], since: datetime
) -> None:
    found = await consumer.offsets_for_times(
        {tp: int(since.timestamp() * 1000) for tp in partitions}
    )
    ends = await consumer.end_offsets(partitions)
    for tp in partitions:
        consumer.seek(tp, found[tp].offset if found.get(tp) else ends[tp])


def _when(record: Any) -> int:
    return record.timestamp


def event_line(value: dict[str, Any], colour: bool) -> str:
    """`<time> <type> <subject> key=value …`, the event's own fields in order, texts cut,
    control characters shown escaped."""
    data = value.get("data") or {}
    subject = value.get("subject") or ""
    fields = [
        f"{printable(name)}={_short(item)}"
        for name, item in data.items()
        if name not in ("ticket_id", "agent_id") or str(item) != subject
    ][:SUMMARY_FIELDS]
    kind = printable(value.get("type", "?"))
    shown = _paint(kind, _colour_of(kind)) if colour else kind
    when = printable(value.get("time", ""))
    return f"{when}  {shown}  {printable(subject)}  {' '.join(fields)}".rstrip()


def _short(item: Any) -> str:
    text = item if isinstance(item, str) else json.dumps(item, ensure_ascii=False)
    cut = text if len(text) <= TEXT_SHOWN else text[: TEXT_SHOWN - 1] + "…"
    return printable(cut)


def _colour_of(kind: str) -> int:
    area = kind.removeprefix("kefu.").split(".")[0]
    return COLOUR_OF_DLQ if area == "dlq" else COLOURS.get(area, 0)


def _paint(text: str, code: int) -> str:
    return f"\033[{code}m{text}\033[0m" if code else text


def about_ticket(ticket: str | None) -> Callable[[dict[str, Any]], bool]:
    return lambda value: ticket is None or str(value.get("subject")) == ticket


async def print_events(
    settings: Settings,
    topics: list[Topic],
    ticket: str | None,
    since: timedelta | None,
    follow: bool,
    out: TextIO = sys.stdout,
) -> int:
    colour, wanted = out.isatty(), about_ticket(ticket)
    async for record in records(settings, topics, since, follow):
        value = _json(record.value)
        if value is not None and wanted(value):
            print(event_line(value, colour), file=out, flush=True)
    return 0


def dead_letter_line(value: dict[str, Any]) -> str:
    data = value.get("data") or {}
    where = f"{data.get('source_topic')}[{data.get('partition')}]@{data.get('offset')}"
    said = (data.get("at", ""), value.get("id"), data.get("service"), where, data.get("error"))
    return "  ".join(map(printable, said))


async def dead_letters(settings: Settings, since: timedelta | None) -> list[dict[str, Any]]:
    found = [_json(r.value) async for r in records(settings, [Topic.DLQ], since, follow=False)]
    return [value for value in found if value and value.get("type") == "kefu.dlq.message"]


async def replay(settings: Settings, letters: list[dict[str, Any]]) -> int:
    """Each dead letter's original bytes back on its source topic, with its original key."""
    producer = AIOKafkaProducer(**client_options(settings), acks="all")
    await producer.start()
    try:
        for letter in letters:
            data = letter["data"]
            payload = data["payload"]
            raw = (
                base64.b64decode(payload)
                if data.get("payload_encoding") == "base64"
                else payload.encode()
            )
            key = data["key"].encode() if data.get("key") is not None else None
            await producer.send_and_wait(data["source_topic"], raw, key=key)
    finally:
        await producer.stop()
    return len(letters)


def _json(raw: bytes | None) -> dict[str, Any] | None:
    try:
        value = json.loads(raw or b"")
    except ValueError:
        return None
    return value if isinstance(value, dict) else None

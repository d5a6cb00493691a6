"""What ops scrape: each service's /metrics carries the names and labels the dashboards and
alerts in deploy/ use (records by outcome, batch size and latency, consumer lag per
partition, events published by type, store commands and the documents they write and read,
process and FastStream metrics)."""

import httpx
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families
from pymongo import UpdateOne

from kefu.shared.metrics import WRITES, Metrics
from kefu.shared.store import connect, database
from tests.conftest import isolated_settings
from tests.factories import message_body
from tests.integration.conftest import running_intake, unique


def samples(text: str) -> dict[str, list[dict[str, str]]]:
    found: dict[str, list[dict[str, str]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, []).append(sample.labels)
    return found


async def test_intake_exposes_what_ops_watch(backend) -> None:
    async with running_intake(backend) as intake:
        body = message_body("email", unique("m-"), "jane@example.com")
        await intake.send(body)
        await intake.ticket_of(f"email:{body['message_id']}")
        async with httpx.AsyncClient() as client:
            text = (await client.get(f"{intake.url}/metrics")).text
    found = samples(text)
    inbound = f"{intake.settings.topic_prefix}channel.inbound"
    assert {"topic": inbound, "outcome": "consumed"} in found["kefu_records_total"]
    assert {"type": "kefu.ticket.opened"} in found["kefu_events_published_total"]
    lagging = {labels["topic"] for labels in found["kefu_consumer_lag"]}
    assert inbound in lagging and all(
        "partition" in labels for labels in found["kefu_consumer_lag"]
    )
    for name in (
        "kefu_batch_records_bucket",
        "kefu_batch_seconds_bucket",
        "kefu_store_commands_total",
        "kefu_store_documents_written_total",
        "kefu_store_documents_read_total",
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
    ):
        assert name in found, name
    assert any(name.startswith("faststream_") for name in found)


async def test_store_documents_count_each_document_written_and_read(backend) -> None:
    settings = isolated_settings(backend)
    metrics = Metrics(CollectorRegistry())
    client = connect(settings, [metrics.store_listener()])
    try:
        things = database(client, settings)["things"]
        await things.insert_many([{"_id": n} for n in range(3)])
        await things.bulk_write([UpdateOne({"_id": n}, {"$set": {"seen": 1}}) for n in range(3)])
        await things.delete_one({"_id": 0})
        await things.find_one_and_update({"_id": 1}, {"$set": {"seen": 2}})
        assert len([one async for one in things.find({}, batch_size=1)]) == 2
    finally:
        await client.close()
    written = metrics.store_documents
    assert [written.labels(name, "things")._value.get() for name in WRITES] == [3, 3, 1]
    assert written.labels("findAndModify", "things")._value.get() == 1
    assert metrics.store_commands.labels("insert")._value.get() == 1
    read = metrics.store_documents_read
    found = [read.labels(name, "things")._value.get() for name in ("find", "getMore")]
    assert sum(found) == 2

"""A service's Prometheus metrics: records by outcome, batch sizes, store commands, CPU."""

from collections.abc import Sequence
from typing import Any

from aiokafka import TopicPartition
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector
from pymongo import monitoring

BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500)


class Metrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        ProcessCollector(registry=registry)  # process_cpu_seconds_total, RSS
        self.records = Counter(
            "kefu_records",
            "Records consumed, skipped (unknown type) and dead-lettered, by topic",
            ["topic", "outcome"],
            registry=registry,
        )
        self.batch_records = Histogram(
            "kefu_batch_records",
            "Records per consumed batch",
            buckets=BATCH_BUCKETS,
            registry=registry,
        )
        self.batch_seconds = Histogram(
            "kefu_batch_seconds",
            "Time to handle a consumed batch: decode, decide, store, publish, dead-letter",
            buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5),
            registry=registry,
        )
        self.store_commands = Counter(
            "kefu_store_commands",
            "MongoDB commands sent, by command name",
            ["command"],
            registry=registry,
        )
        self.store_documents = Counter(
            "kefu_store_documents_written",
            "Documents MongoDB commands asked to insert, update or delete, by command name and "
            "collection (a bulk write of n documents is one command and n documents)",
            ["command", "collection"],
            registry=registry,
        )
        self.store_documents_read = Counter(
            "kefu_store_documents_read",
            "Documents MongoDB returned to `find` and `getMore` commands, by command name and "
            "collection",
            ["command", "collection"],
            registry=registry,
        )

        self.published = Counter(
            "kefu_events_published",
            "Events published, by type: the business counters (kefu.ticket.opened, "
            "kefu.ticket.assigned, kefu.sla.breached, kefu.notify.sent, "
            "kefu.survey.responded, kefu.dlq.message, …)",
            ["type"],
            registry=registry,
        )
        self.lag = Gauge(
            "kefu_consumer_lag",
            "Records not yet consumed by the service's group, by topic and partition, as of "
            "its latest batch from that partition",
            ["topic", "partition"],
            registry=registry,
        )
        self.timer_lateness = Histogram(
            "kefu_timer_lateness_seconds",
            "How late durable timers fire after their due time",
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
            registry=registry,
        )

    def consumed(self, records: Sequence[Any], rejected: Sequence[Any], skipped: Sequence[Any]):
        self.batch_records.observe(len(records))
        for outcome, some in (("consumed", records), ("skipped", skipped)):
            for record in some:
                self.records.labels(record.topic, outcome).inc()
        for refusal in rejected:
            self.records.labels(refusal.input.record.topic, "dead_lettered").inc()

    def lagging(self, consumer: Any, records: Sequence[Any]) -> None:
        """Each partition's lag after a batch: its high watermark minus the next offset."""
        last: dict[tuple[str, int], int] = {}
        for record in records:
            place = (record.topic, record.partition)
            last[place] = max(last.get(place, -1), record.offset)
        for (topic, partition), offset in last.items():
            highwater = consumer.highwater(TopicPartition(topic, partition))
            if highwater is not None:
                self.lag.labels(topic, str(partition)).set(max(0, highwater - offset - 1))

    def store_listener(self) -> monitoring.CommandListener:
        return _CommandCounter(self.store_commands, self.store_documents, self.store_documents_read)


WRITES = {"insert": "documents", "update": "updates", "delete": "deletes"}


BATCHES = {"find": "firstBatch", "getMore": "nextBatch"}


class _CommandCounter(monitoring.CommandListener):
    def __init__(self, commands: Counter, documents: Counter, read: Counter) -> None:
        self.commands = commands
        self.documents = documents
        self.read = read
        self._reading: dict[int, str] = {}  # request id → collection, until the reply

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        name, command = event.command_name, event.command
        self.commands.labels(name).inc()
        if name in WRITES:
            self.documents.labels(name, command[name]).inc(len(command.get(WRITES[name], ())))
        elif name == "findAndModify":
            self.documents.labels(name, command[name]).inc()
        elif name in BATCHES:
            self._reading[event.request_id] = command["collection" if name == "getMore" else name]

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        name = event.command_name
        if (collection := self._reading.pop(event.request_id, None)) is not None:
            batch = event.reply.get("cursor", {}).get(BATCHES[name], ())
            self.read.labels(name, collection).inc(len(batch))

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        self._reading.pop(event.request_id, None)

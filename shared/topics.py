"""Topic names (contract section 1); every name carries KEFU_TOPIC_PREFIX."""

from enum import StrEnum


class Topic(StrEnum):
    CHANNEL_INBOUND = "channel.inbound"
    AGENT_INBOUND = "agent.inbound"
    TICKET_EVENTS = "ticket.events"
    AGENT_EVENTS = "agent.events"
    ROUTING_EVENTS = "routing.events"
    SLA_EVENTS = "sla.events"
    NOTIFY_REQUESTS = "notify.requests"
    NOTIFY_DELIVERIES = "notify.deliveries"
    SURVEY_EVENTS = "survey.events"
    ANALYTICS_KPIS = "analytics.kpis"
    OPS_EVENTS = "ops.events"
    DLQ = "dlq"


def topic_name(prefix: str, topic: Topic) -> str:
    return f"{prefix}{topic.value}"


def all_topic_names(prefix: str) -> list[str]:
    return [topic_name(prefix, topic) for topic in Topic]


DAY_MS = 24 * 60 * 60 * 1000
RETENTION_MS = {Topic.DLQ: 30 * DAY_MS}  # dead letters wait for a fix and a replay (runbooks)
DEFAULT_RETENTION_MS = 7 * DAY_MS


def topic_configs(topic: Topic | None, replication_factor: int) -> dict[str, str]:
    """The broker configs of a kefu topic (`None`: a topic outside the contract). The Strimzi
    KafkaTopics in deploy/ carry the same (tests/deploy/test_topics.py)."""
    retention = RETENTION_MS.get(topic, DEFAULT_RETENTION_MS)
    # Producers write with acks=all: with three replicas or more, two must hold a write, so
    # one broker may be lost or restarted. With fewer, requiring two would stop every write
    # whenever one broker is down (and with one replica refuse them all): then one.
    min_insync = 2 if replication_factor >= 3 else 1
    return {"retention.ms": str(retention), "min.insync.replicas": str(min_insync)}

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

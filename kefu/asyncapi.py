"""The AsyncAPI document of the whole platform, generated from the services' own code."""

import importlib
import json
from typing import Any
from urllib.parse import unquote

import yaml
from faststream.specification import AsyncAPI

from kefu.shared.service import SERVICES
from kefu.shared.settings import Settings
from kefu.shared.topics import Topic, topic_name

DESCRIPTION = (
    "kefu services and the topics they read and write. Every canonical message is a "
    "CloudEvents 1.0 event in structured JSON mode (header `content-type: "
    "application/cloudevents+json`), keyed by ticket_id (agent_id on agent.events). Its "
    "`kefu-type` header copies `type`, for filtering without parsing; no header starts "
    "with `ce_`, which the Kafka binding keeps for binary mode."
)
INBOUND = (Topic.CHANNEL_INBOUND, Topic.AGENT_INBOUND)
# The Kafka headers kefu's records really carry (shared/bus.py, shared/tracing.py), which
# FastStream's AsyncAPI has no place for; asyncapi_yaml() adds them to every message.
_TRACE_CONTEXT = "when tracing is on (OTEL_* variables): the W3C trace context"
CANONICAL_HEADERS = {
    "type": "object",
    "description": "Kafka headers of a canonical record",
    "required": ["content-type", "kefu-type", "correlation_id"],
    "properties": {
        "content-type": {"type": "string", "const": "application/cloudevents+json"},
        "kefu-type": {"type": "string", "description": "the event's `type`, copied"},
        "correlation_id": {"type": "string", "description": "the event's `correlationid`"},
        "traceparent": {
            "type": "string",
            "description": f"{_TRACE_CONTEXT} of the input the event answers",
        },
        "tracestate": {"type": "string", "description": "with `traceparent`, when it has one"},
        "baggage": {"type": "string", "description": "with `traceparent`, when it has any"},
    },
}
INBOUND_HEADERS = {
    "type": "object",
    "description": "Kafka headers of an inbound record; kefu needs none",
    "properties": {
        "content-type": {
            "type": "string",
            "description": "`application/json` on what intake's HTTP endpoints forward",
        },
        "traceparent": {
            "type": "string",
            "description": f"{_TRACE_CONTEXT} of the producer, which kefu's trace continues",
        },
    },
}


def asyncapi_yaml() -> str:
    # the documented names, whatever this shell's KEFU_* variables say
    documenting_only = "documenting-only-never-a-real-secret"
    settings = Settings(
        kafka_bootstrap="127.0.0.1:9092",
        topic_prefix="kefu.",
        survey_secret=documenting_only,
        notify_secret=documenting_only,
        auth_secret=documenting_only,
    )
    brokers = [
        importlib.import_module(f"kefu.services.{name}.app").build(settings).broker
        for name in SERVICES
    ]
    from kefu import __version__

    spec = AsyncAPI(*brokers, title="kefu", version=__version__, description=DESCRIPTION)
    document = json.loads(spec.to_specification().to_json())
    _declare_headers(document, {topic_name(settings.topic_prefix, t) for t in INBOUND})
    # FastStream lists channels in registration order, which varies between runs; sorted,
    # the committed document only changes when the contract does.
    for section in (document, document.get("components", {})):
        for key in ("channels", "operations", "messages", "schemas"):
            if key in section:
                section[key] = dict(sorted(section[key].items()))
    document = {"asyncapi": document.pop("asyncapi"), **document}
    return yaml.safe_dump(document, allow_unicode=True, sort_keys=False)


def _declare_headers(document: dict[str, Any], inbound: set[str]) -> None:
    """Each message gets the headers of its topic's records. FastStream's `correlationId`
    points at the `correlation_id` header, which only canonical records have."""
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas["CanonicalHeaders"] = CANONICAL_HEADERS
    schemas["InboundHeaders"] = INBOUND_HEADERS
    messages = components.get("messages", {})
    for channel in document.get("channels", {}).values():
        for ref in channel.get("messages", {}).values():
            name = unquote(ref["$ref"].rsplit("/", 1)[-1]).replace("~1", "/").replace("~0", "~")
            message = messages[name]
            if channel["address"] in inbound:
                message["headers"] = {"$ref": "#/components/schemas/InboundHeaders"}
                message.pop("correlationId", None)
            else:
                message["headers"] = {"$ref": "#/components/schemas/CanonicalHeaders"}
                message["contentType"] = "application/cloudevents+json"

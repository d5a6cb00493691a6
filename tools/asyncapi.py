"""The AsyncAPI document of the whole platform, generated from the services' own code."""

import importlib
import json

import yaml
from faststream.specification import AsyncAPI

from shared.service import SERVICES
from shared.settings import Settings

DESCRIPTION = (
    "kefu services and the topics they read and write. Every canonical message is a "
    "CloudEvents 1.0 event in structured JSON mode (header `content-type: "
    "application/cloudevents+json`, header `ce_type` = `type`), keyed by ticket_id "
    "(agent_id on agent.events)."
)


def asyncapi_yaml() -> str:
    # the documented names, whatever this shell's KEFU_* variables say
    settings = Settings(
        kafka_bootstrap="127.0.0.1:9092", topic_prefix="kefu.", survey_secret="documenting-only"
    )
    brokers = [
        importlib.import_module(f"services.{name}.app").build(settings).broker for name in SERVICES
    ]
    from shared import __version__

    spec = AsyncAPI(*brokers, title="kefu", version=__version__, description=DESCRIPTION)
    document = json.loads(spec.to_specification().to_json())
    # FastStream lists channels in registration order, which varies between runs; sorted,
    # the committed document only changes when the contract does.
    for section in (document, document.get("components", {})):
        for key in ("channels", "operations", "messages", "schemas"):
            if key in section:
                section[key] = dict(sorted(section[key].items()))
    document = {"asyncapi": document.pop("asyncapi"), **document}
    return yaml.safe_dump(document, allow_unicode=True, sort_keys=False)

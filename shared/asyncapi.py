"""The AsyncAPI document of the whole platform, generated from the services' own code."""

import importlib

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
    settings = Settings()
    brokers = [
        importlib.import_module(f"services.{name}.app").build(settings).broker for name in SERVICES
    ]
    from shared import __version__

    spec = AsyncAPI(*brokers, title="kefu", version=__version__, description=DESCRIPTION)
    return spec.to_specification().to_yaml()

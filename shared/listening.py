"""A service whose domain is not built yet: it consumes its topics and logs what it sees,
so that its consumer group, lag and DLQ behave as they will once it is built."""

from typing import Any

from faststream.asgi import AsgiFastStream

from shared.events.schema import envelope_schema
from shared.logs import get_logger
from shared.service import Service
from shared.settings import Settings
from shared.topics import Topic


def listening_service(name: str, settings: Settings, topics: tuple[Topic, ...]) -> AsgiFastStream:
    service = Service.create(name, settings)
    log = get_logger(f"kefu.{name}")
    events: Any = envelope_schema(*topics)

    @service.bus.subscriber(*topics)
    async def on_event(event: events) -> None:
        log.info("event received", received_type=event.type, subject=event.subject)

    return service.app()

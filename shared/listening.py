"""A service whose domain is not built yet: it consumes its topics and logs what it sees,
so that its consumer group, lag and DLQ behave as they will once it is built."""

from collections import Counter
from typing import Any

from faststream.asgi import AsgiFastStream

from shared.consumer import Input, Record, Rejected
from shared.events import decode_envelope
from shared.events.schema import envelope_schema
from shared.logs import get_logger
from shared.service import Service
from shared.settings import Settings
from shared.topics import Topic


def listening_service(name: str, settings: Settings, topics: tuple[Topic, ...]) -> AsgiFastStream:
    service = Service.create(name, settings)
    log = get_logger(f"kefu.{name}")

    async def handle(inputs: list[Input[Any]]) -> list[Rejected]:
        types = Counter(one.value.type for one in inputs)
        log.info("events received", count=len(inputs), types=dict(types))
        return []

    def decode(record: Record) -> Any:
        """The envelope only: the data is validated by the code that will use it."""
        return decode_envelope(record.value)

    service.bus.consume(
        *topics,
        decode=decode,
        handle=handle,
        schema=envelope_schema(*topics),
        description=f"Not built yet: kefu/{name} logs what it receives.",
    )
    return service.app()

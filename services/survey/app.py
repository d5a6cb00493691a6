"""Survey: CSAT/NPS after resolution with signed single-use links.

Not built yet: consumes its topics and logs each event (see the README's status table)."""

from faststream.asgi import AsgiFastStream

from shared.listening import listening_service
from shared.settings import Settings
from shared.topics import Topic

READS = (Topic.TICKET_EVENTS,)


def build(settings: Settings) -> AsgiFastStream:
    return listening_service("survey", settings, READS)

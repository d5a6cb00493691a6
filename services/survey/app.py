"""Survey: CSAT or NPS after every solved ticket, through a signed single-use link, a real
page and SMS replies; low scores go to a supervisor to call back (contract 3, 4, 5.1, 7;
policy `survey`)."""

from faststream.asgi import AsgiFastStream

from kefu.services.survey.decision import Rules
from kefu.services.survey.handling import Surveys
from kefu.services.survey.http import survey_pages
from kefu.services.survey.store import SurveyStore
from kefu.services.survey.tokens import SurveyLinks
from kefu.shared.bus import GATHER_S
from kefu.shared.consumer import canonical_event
from kefu.shared.events.schema import envelope_schema
from kefu.shared.service import Service
from kefu.shared.settings import Settings
from kefu.shared.topics import Topic

READS = (Topic.TICKET_EVENTS, Topic.ROUTING_EVENTS)


def build(settings: Settings) -> AsgiFastStream:
    secret = settings.signing_secret("survey_secret")
    service = Service.create("survey", settings, SurveyStore.indexes())
    service.bus.declare_publishes(Topic.SURVEY_EVENTS, Topic.NOTIFY_REQUESTS)
    links = SurveyLinks(secret, settings.public_url)
    rules = Rules(service.policy.survey, links, settings.default_locale)
    surveys = Surveys(service.bus, SurveyStore(service), rules)
    service.background.append(surveys.run_timers)

    service.bus.consume(
        *READS,
        decode=canonical_event,
        handle=surveys.decisions.handle,
        schema=envelope_schema(*READS),
        description="Sends a survey after each solve, reminds, expires, records SMS answers.",
        gather_s=GATHER_S,
    )
    return service.app(fallback=survey_pages(surveys, links, settings.max_body_bytes))

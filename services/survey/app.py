"""Survey: CSAT or NPS after every solved ticket, through a signed single-use link, a real
page and SMS replies; low scores go to a supervisor to call back (contract 3, 4, 5.1, 7;
policy `survey`)."""

from faststream.asgi import AsgiFastStream

from services.survey.decision import Rules
from services.survey.handling import Surveys
from services.survey.http import survey_pages
from services.survey.store import SurveyStore
from services.survey.tokens import SurveyLinks
from shared.consumer import canonical_event
from shared.events.schema import envelope_schema
from shared.service import Service
from shared.settings import DEFAULT_SECRET, Settings, SettingsError
from shared.topics import Topic

READS = (Topic.TICKET_EVENTS, Topic.ROUTING_EVENTS)


def build(settings: Settings) -> AsgiFastStream:
    secret = settings.survey_secret.get_secret_value()
    if secret == DEFAULT_SECRET:
        raise SettingsError(
            "KEFU_SURVEY_SECRET is still the default, so anyone could forge survey links; "
            "set it to a long random value (`kefu up` makes one for you)"
        )
    service = Service.create("survey", settings, SurveyStore.indexes())
    service.bus.declare_publishes(Topic.SURVEY_EVENTS, Topic.NOTIFY_REQUESTS)
    links = SurveyLinks(secret, settings.public_url)
    rules = Rules(service.policy.survey, links, settings.default_locale)
    surveys = Surveys(service.bus, SurveyStore(service), rules)
    service.background.append(surveys.run_timers)

    service.bus.consume(
        *READS,
        decode=canonical_event,
        handle=surveys.handle,
        schema=envelope_schema(*READS),
        description="Sends a survey after each solve, reminds, expires, records SMS answers.",
    )
    return service.app(fallback=survey_pages(surveys, links))

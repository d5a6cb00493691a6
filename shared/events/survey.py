"""Events on `survey.events`, written by survey."""

from typing import ClassVar, Literal

from kefu.shared.events.base import EventData, Timestamp
from kefu.shared.topics import Topic

SurveyKind = Literal["csat", "nps"]


class SurveyEvent(EventData):
    topic: ClassVar[Topic] = Topic.SURVEY_EVENTS
    survey_id: str
    ticket_id: str


class SurveyIssued(SurveyEvent):
    event_type: ClassVar[str] = "kefu.survey.issued"
    kind: SurveyKind
    url: str
    expires_at: Timestamp


class SurveyResponded(SurveyEvent):
    event_type: ClassVar[str] = "kefu.survey.responded"
    kind: SurveyKind
    score: int
    comment: str | None
    agent_id: str | None
    at: Timestamp


class SurveyExpired(SurveyEvent):
    event_type: ClassVar[str] = "kefu.survey.expired"
    at: Timestamp


class SurveyDetractor(SurveyEvent):
    """A low score, for a supervisor to follow up (contract 7)."""

    event_type: ClassVar[str] = "kefu.survey.detractor"
    kind: SurveyKind
    score: int
    comment: str | None
    agent_id: str | None
    at: Timestamp

"""What the survey service keeps of a ticket, pure: who to ask and how, the survey waiting to
go out after a solve, and the surveys issued (each open until answered or expired)."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from kefu.shared.events.base import TicketStatus, Timestamp
from kefu.shared.events.notify import CustomerReach
from kefu.shared.events.survey import SurveyKind

KEPT_SURVEYS = 5  # older surveys of a ticket are long expired


class Answer(BaseModel):
    model_config = ConfigDict(frozen=True)

    score: int
    comment: str | None = None
    at: Timestamp
    via: str  # `web` or `sms`


class Survey(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    kind: SurveyKind
    agent_id: str | None = None
    issued_at: Timestamp
    expires_at: Timestamp
    remind_at: Timestamp | None = None
    reminded: bool = False
    expired: bool = False
    answer: Answer | None = None

    def open_at(self, instant: datetime) -> bool:
        return self.answer is None and not self.expired and instant < self.expires_at

    def wake_at(self) -> datetime | None:
        if self.answer is not None or self.expired:
            return None
        if self.remind_at is not None and not self.reminded:
            return min(self.remind_at, self.expires_at)
        return self.expires_at


class Scheduled(BaseModel):
    """A survey waiting for the policy's delay after the `solve`-th solve."""

    model_config = ConfigDict(frozen=True)

    solve: int
    at: Timestamp


class SurveyTicket(BaseModel):
    model_config = ConfigDict(frozen=True)

    ticket_id: str
    customer: CustomerReach | None = None
    status: TicketStatus | None = None
    assignee: str | None = None
    solved_by: str | None = None
    solves: int = 0
    scheduled: Scheduled | None = None
    surveys: list[Survey] = []

    @property
    def locale(self) -> str | None:
        return self.customer.locale if self.customer else None

    def survey(self, survey_id: str) -> Survey | None:
        return next((survey for survey in self.surveys if survey.id == survey_id), None)

    def agent(self) -> str | None:
        """The agent a survey is about: who solved the ticket (known with the solve itself,
        whatever order the topics arrive in), else its assignee."""
        return self.solved_by or self.assignee

    def wake_at(self) -> datetime | None:
        """When something is next due: the scheduled survey, a reminder or an expiry."""
        due = [survey.wake_at() for survey in self.surveys]
        due.append(self.scheduled.at if self.scheduled else None)
        return min((at for at in due if at is not None), default=None)

    def with_survey(self, survey: Survey) -> "SurveyTicket":
        """The ticket with `survey` added or replaced."""
        others = [kept for kept in self.surveys if kept.id != survey.id]
        if len(others) == len(self.surveys):
            return self.model_copy(update={"surveys": [*others, survey][-KEPT_SURVEYS:]})
        surveys = [survey if kept.id == survey.id else kept for kept in self.surveys]
        return self.model_copy(update={"surveys": surveys})

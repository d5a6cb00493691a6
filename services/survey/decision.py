"""The survey service's decisions, pure: what an event, a timer or an answer does to a
ticket's surveys, and the events that says.

- A solve schedules a survey after `survey.delay` (one per ticket; one per solve with
  `per_solve`); a reopen, or any move back to work, before it goes cancels it.
- Whatever is due is done at once, after every input: the survey goes out
  (`kefu.survey.issued`, and its invitation as `kefu.notify.requested` on the customer's
  channel), the one reminder, the expiry (`kefu.survey.expired`).
- An answer (the page, or an SMS reply intake marked with the survey's id) is recorded once:
  `kefu.survey.responded`, and for a low score `kefu.survey.detractor` and a call-back
  request to the supervisors.
Event ids are `survey:<survey_id>:<what>`; a survey's id is `<ticket_id>-<solve number>`.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from kefu.services.survey.ticket import Answer, Scheduled, Survey, SurveyTicket
from kefu.services.survey.tokens import LinkSubject, SurveyLinks
from kefu.shared.decisions import Decide
from kefu.shared.errors import PoisonMessage
from kefu.shared.events import CloudEvent, EventData, new_event
from kefu.shared.events.notify import CustomerReach, NotifyRequested
from kefu.shared.events.routing import TicketAssigned
from kefu.shared.events.survey import (
    SurveyDetractor,
    SurveyExpired,
    SurveyIssued,
    SurveyResponded,
)
from kefu.shared.events.ticket import MessageReceived, Reopened, StatusChanged, TicketOpened
from kefu.shared.policy import Survey as SurveyPolicy
from kefu.shared.surveys import SCALES, in_scale, is_detractor, sms_score

SOURCE = "kefu/survey"
CALL_BACK_WITHIN = timedelta(hours=24)  # the handbooks' promise to an unhappy customer
NOT_AGENTS = ("system", "customer")
Event = CloudEvent[Any]


@dataclass(frozen=True)
class Rules:
    policy: SurveyPolicy
    links: SurveyLinks
    default_locale: str


@dataclass(frozen=True)
class Tick:
    """A ticket's timer came due."""

    ticket_id: str


@dataclass(frozen=True)
class AnswerGiven:
    ticket_id: str
    survey_id: str
    score: int
    comment: str | None
    at: datetime
    via: str = "web"


class AnswerRefused(PoisonMessage):
    """An answer that cannot be recorded; `status` is the page's HTTP status."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


def refusal(ticket: SurveyTicket | None, survey_id: str, at: datetime) -> AnswerRefused | None:
    """Why a survey cannot be answered now (404 unknown, 409 answered, 410 expired)."""
    survey = ticket.survey(survey_id) if ticket else None
    if survey is None:
        return AnswerRefused(404, f"there is no survey {survey_id}")
    if survey.answer is not None:
        return AnswerRefused(409, f"survey {survey_id} is already answered")
    if not survey.open_at(at):
        return AnswerRefused(410, f"survey {survey_id} has expired")
    return None


def deciding(rules: Rules) -> Decide[SurveyTicket, Any]:
    def decide(
        ticket: SurveyTicket | None, input: Any, now: datetime
    ) -> tuple[SurveyTicket | None, list[Event]]:
        if isinstance(input, Tick):
            if ticket is None:
                return None, []
            decision = Decision(ticket, rules, now)
        elif isinstance(input, AnswerGiven):
            decision = Decision(ticket or SurveyTicket(ticket_id=input.ticket_id), rules, now)
            decision.answer(input)
        else:
            known = ticket or SurveyTicket(ticket_id=input.data.ticket_id)
            decision = Decision(fold(known, input.data, rules.policy), rules, now)
            if isinstance(input.data, MessageReceived) and input.data.survey_id:
                decision.sms_answer(input.data)
        decision.due()
        return decision.ticket, decision.events

    return decide


def ticket_of(input: Any) -> str:
    return input.ticket_id if isinstance(input, Tick | AnswerGiven) else input.data.ticket_id


def fold(ticket: SurveyTicket, data: EventData, policy: SurveyPolicy) -> SurveyTicket:
    """The ticket after an event of its own."""
    match data:
        case TicketOpened():
            reach = CustomerReach.of(data)
            return ticket.model_copy(update={"customer": reach, "status": ticket.status or "new"})
        case TicketAssigned():
            return ticket.model_copy(update={"assignee": data.agent_id})
        case StatusChanged(to="solved"):
            return _solved(ticket, data, policy)
        case StatusChanged(to="closed"):
            return ticket.model_copy(update={"status": "closed"})
        case StatusChanged() | Reopened():  # back to work: a survey not yet sent is not sent
            status = data.to if isinstance(data, StatusChanged) else "open"
            return ticket.model_copy(update={"status": status, "scheduled": None})
    return ticket


def _solved(ticket: SurveyTicket, data: StatusChanged, policy: SurveyPolicy) -> SurveyTicket:
    solves = ticket.solves + 1
    update: dict[str, Any] = {"status": "solved", "solves": solves}
    if data.by not in NOT_AGENTS:
        update["solved_by"] = data.by
    if ticket.scheduled is None and (policy.per_solve or not ticket.surveys):
        update["scheduled"] = Scheduled(solve=solves, at=data.at + policy.delay)
    return ticket.model_copy(update=update)


class Decision:
    """One input's effect on a ticket: the ticket after it, and the events it calls for."""

    def __init__(self, ticket: SurveyTicket, rules: Rules, now: datetime) -> None:
        self.ticket = ticket
        self.rules = rules
        self.now = now
        self.events: list[Event] = []

    def due(self) -> None:
        """Everything whose time has come: the scheduled survey, reminders, expiries."""
        scheduled = self.ticket.scheduled
        if scheduled and scheduled.at <= self.now and self.ticket.status in ("solved", "closed"):
            self._issue(scheduled)
        for survey in self.ticket.surveys:
            if survey.answer is not None or survey.expired:
                continue
            if survey.expires_at <= self.now:
                self._expire(survey)
            elif survey.remind_at and survey.remind_at <= self.now and not survey.reminded:
                self._remind(survey)

    def answer(self, given: AnswerGiven) -> None:
        if refused := refusal(self.ticket, given.survey_id, given.at):
            raise refused
        survey = self.ticket.survey(given.survey_id)
        assert survey is not None
        if not in_scale(survey.kind, given.score):
            scale = SCALES[survey.kind]
            raise AnswerRefused(422, f"a {survey.kind} score is {scale[0]} to {scale[-1]}")
        answer = Answer(score=given.score, comment=given.comment, at=given.at, via=given.via)
        self._answered(survey.model_copy(update={"answer": answer}))

    def sms_answer(self, message: MessageReceived) -> None:
        """An SMS reply intake took for an answer; one the survey cannot take stays a message."""
        survey = self.ticket.survey(message.survey_id or "")
        score = sms_score(message.text, survey.kind) if survey else None
        if survey is None or score is None or refusal(self.ticket, survey.id, message.received_at):
            return
        answer = Answer(score=score, comment=None, at=message.received_at, via="sms")
        self._answered(survey.model_copy(update={"answer": answer}))

    def _issue(self, scheduled: Scheduled) -> None:
        policy, ticket = self.rules.policy, self.ticket
        issued_at = self.now
        expires_at = (issued_at + policy.expires).replace(microsecond=0)
        remind = policy.remind_after
        survey = Survey(
            id=f"{ticket.ticket_id}-{scheduled.solve}",
            kind=policy.kind,
            agent_id=ticket.agent(),
            issued_at=issued_at,
            expires_at=expires_at,
            remind_at=issued_at + remind if remind and remind < policy.expires else None,
        )
        self.ticket = ticket.with_survey(survey).model_copy(update={"scheduled": None})
        url = self.rules.links.url(LinkSubject(ticket.ticket_id, survey.id, expires_at))
        issued = SurveyIssued(
            survey_id=survey.id,
            ticket_id=ticket.ticket_id,
            kind=survey.kind,
            url=url,
            expires_at=expires_at,
        )
        self._event(issued, survey, "issued")
        self._invite(survey, url, "survey_invite", "invite")

    def _remind(self, survey: Survey) -> None:
        self.ticket = self.ticket.with_survey(survey.model_copy(update={"reminded": True}))
        subject = LinkSubject(self.ticket.ticket_id, survey.id, survey.expires_at)
        self._invite(survey, self.rules.links.url(subject), "survey_reminder", "reminder")

    def _expire(self, survey: Survey) -> None:
        self.ticket = self.ticket.with_survey(survey.model_copy(update={"expired": True}))
        expired = SurveyExpired(survey_id=survey.id, ticket_id=self.ticket.ticket_id, at=self.now)
        self._event(expired, survey, "expired")

    def _invite(self, survey: Survey, url: str, template: str, what: str) -> None:
        """The customer asked on their channel; chat and social adapters read the event."""
        customer = self.ticket.customer
        channel = customer.notify_channel() if customer else None
        if customer is None or channel is None:
            return
        request = NotifyRequested(
            notification_id=f"survey:{survey.id}:{what}",
            ticket_id=self.ticket.ticket_id,
            channel=channel,
            to=customer.address,
            template=template,
            locale=customer.locale or self.rules.default_locale,
            params={
                "url": url,
                "kind": survey.kind,
                "scores": list(SCALES[survey.kind]),
                "expires_at": f"{survey.expires_at:%Y-%m-%d %H:%M} UTC",
            },
        )
        self._event(request, survey, what)

    def _answered(self, survey: Survey) -> None:
        answer = survey.answer
        assert answer is not None
        self.ticket = self.ticket.with_survey(survey)
        said = {
            "survey_id": survey.id,
            "ticket_id": self.ticket.ticket_id,
            "kind": survey.kind,
            "score": answer.score,
            "comment": answer.comment,
            "agent_id": survey.agent_id,
            "at": answer.at,
        }
        self._event(SurveyResponded(**said), survey, "responded")
        if is_detractor(survey.kind, answer.score):
            self._event(SurveyDetractor(**said), survey, "detractor")
            self._call_back(survey, answer)

    def _call_back(self, survey: Survey, answer: Answer) -> None:
        """Someone calls the unhappy customer back within a day: the supervisors are told."""
        customer = self.ticket.customer
        request = NotifyRequested(
            notification_id=f"survey:{survey.id}:call_back",
            ticket_id=self.ticket.ticket_id,
            channel="email",
            to="role:supervisor",
            template="detractor",
            locale=self.rules.default_locale,
            params={
                "kind": survey.kind,
                "score": answer.score,
                "comment": answer.comment,
                "agent_id": survey.agent_id,
                "customer": customer.address if customer else None,
                "name": customer.name if customer else None,
                "call_back_by": f"{answer.at + CALL_BACK_WITHIN:%Y-%m-%d %H:%M} UTC",
            },
        )
        self._event(request, survey, "call_back")

    def _event(self, data: EventData, survey: Survey, what: str) -> None:
        self.events.append(
            new_event(
                data,
                id=f"survey:{survey.id}:{what}",
                source=SOURCE,
                correlationid=f"survey:{survey.id}",
                time=self.now,
            )
        )

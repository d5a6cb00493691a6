"""The survey service's decisions with plain values: scheduling after a solve, cancelling on
a reopen, per_solve, issuing with the invitation on the customer's channel, reminder, expiry,
answers by page and SMS, refusals, detractors and their call-back request."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kefu.services.survey.decision import AnswerGiven, AnswerRefused, Rules, Tick, deciding
from kefu.services.survey.ticket import SurveyTicket
from kefu.services.survey.tokens import SurveyLinks
from kefu.shared.policy import Survey as SurveyPolicy
from tests import sla_events as ev

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
LINKS = SurveyLinks("a-long-random-survey-secret", "https://help.example.com")


def rules(**policy: Any) -> Rules:
    return Rules(SurveyPolicy.model_validate(policy), LINKS, "en")


class Run:
    """A ticket's survey state through a sequence of inputs, with every event said."""

    def __init__(self, **policy: Any) -> None:
        self.decide = deciding(rules(**policy))
        self.state: SurveyTicket | None = None
        self.events: list[Any] = []

    def __call__(self, input: Any, now: datetime) -> list[Any]:
        self.state, events = self.decide(self.state, input, now)
        self.events += events
        return events

    def types(self) -> list[str]:
        return [event.type for event in self.events]

    def solved(self, at: datetime, channel: str = "email", **opened: Any) -> list[Any]:
        address = "jane@example.com" if channel in ("email", "webform") else "+8613800138000"
        customer = ev.Customer(address=address, name="Jane")
        self(ev.opened("1001", T0, channel=channel, customer=customer, **opened), T0)
        self(ev.assigned("1001", "agent-7", T0), T0)
        return self(ev.status("1001", "open", "solved", at), at)


def answer(score: int, at: datetime, survey: str = "1001-1", comment: str | None = None) -> Any:
    return AnswerGiven("1001", survey, score, comment, at)


def test_a_solve_issues_the_survey_at_once_with_the_invitation_by_email() -> None:
    run = Run()
    events = run.solved(T0 + timedelta(hours=1))
    issued, invite = events
    assert issued.type == "kefu.survey.issued" and issued.id == "survey:1001-1:issued"
    assert issued.data.kind == "csat" and issued.data.url.startswith("https://help.example.com/s/")
    assert issued.data.expires_at == T0 + timedelta(hours=1, days=7)
    assert invite.type == "kefu.notify.requested"
    assert (invite.data.channel, invite.data.to) == ("email", "jane@example.com")
    assert invite.data.template == "survey_invite"
    assert invite.data.params["url"] == issued.data.url
    assert invite.data.params["scores"] == [1, 2, 3, 4, 5]


def test_sms_and_voice_tickets_are_asked_by_sms_chat_only_by_the_event() -> None:
    for channel, expected in (("sms", ["sms"]), ("voice", ["sms"]), ("chat", [])):
        run = Run()
        events = run.solved(T0, channel=channel)
        requests = [e.data.channel for e in events if e.type == "kefu.notify.requested"]
        assert requests == expected, channel
        assert events[0].type == "kefu.survey.issued"


def test_the_delay_holds_the_survey_and_a_reopen_before_it_cancels() -> None:
    run = Run(delay="1h")
    assert run.solved(T0) == []
    assert run.state.wake_at() == T0 + timedelta(hours=1)
    run(ev.reopened("1001", T0 + timedelta(minutes=30)), T0 + timedelta(minutes=30))
    assert run.state.wake_at() is None
    assert run(Tick("1001"), T0 + timedelta(hours=2)) == []


def test_after_a_cancelled_survey_the_next_solve_gets_one() -> None:
    run = Run(delay="1h")
    run.solved(T0)
    run(ev.reopened("1001", T0 + timedelta(minutes=5)), T0 + timedelta(minutes=5))
    run(ev.status("1001", "open", "solved", T0 + timedelta(hours=3)), T0 + timedelta(hours=3))
    events = run(Tick("1001"), T0 + timedelta(hours=4))
    assert events[0].data.survey_id == "1001-2"


def test_one_survey_per_ticket_unless_per_solve() -> None:
    for per_solve, expected in ((False, ["1001-1"]), (True, ["1001-1", "1001-2"])):
        run = Run(per_solve=per_solve)
        run.solved(T0)
        run(ev.reopened("1001", T0 + timedelta(hours=1)), T0 + timedelta(hours=1))
        run(ev.status("1001", "open", "solved", T0 + timedelta(hours=2)), T0 + timedelta(hours=2))
        issued = [e.data.survey_id for e in run.events if e.type == "kefu.survey.issued"]
        assert issued == expected, per_solve


def test_closing_a_solved_ticket_keeps_its_scheduled_survey() -> None:
    run = Run(delay="1h")
    run.solved(T0)
    run(ev.status("1001", "solved", "closed", T0 + timedelta(minutes=10)), T0)
    assert run(Tick("1001"), T0 + timedelta(hours=1))[0].type == "kefu.survey.issued"


def test_one_reminder_then_the_expiry() -> None:
    run = Run(expires="2d", remind_after="1d")
    run.solved(T0)
    assert run.state.wake_at() == T0 + timedelta(days=1)
    [reminder] = run(Tick("1001"), T0 + timedelta(days=1))
    assert reminder.data.template == "survey_reminder" and reminder.id == "survey:1001-1:reminder"
    assert run(Tick("1001"), T0 + timedelta(days=1, hours=1)) == []
    [expired] = run(Tick("1001"), T0 + timedelta(days=2))
    assert expired.type == "kefu.survey.expired" and expired.id == "survey:1001-1:expired"
    assert run.state.wake_at() is None


def test_an_answered_survey_neither_reminds_nor_expires() -> None:
    run = Run(expires="2d", remind_after="1d")
    run.solved(T0)
    run(answer(5, T0 + timedelta(hours=1)), T0 + timedelta(hours=1))
    assert run.state.wake_at() is None
    assert run(Tick("1001"), T0 + timedelta(days=3)) == []


def test_an_answer_is_recorded_once_with_the_agent() -> None:
    run = Run()
    run.solved(T0)
    [responded] = run(answer(4, T0 + timedelta(hours=1), comment="quick"), T0)
    assert responded.type == "kefu.survey.responded" and responded.id == "survey:1001-1:responded"
    assert (responded.data.score, responded.data.comment) == (4, "quick")
    assert responded.data.agent_id == "a1"  # who solved it
    with pytest.raises(AnswerRefused) as again:
        run(answer(5, T0 + timedelta(hours=2)), T0)
    assert again.value.status == 409


@pytest.mark.parametrize(
    ("given", "status"),
    [
        (answer(3, T0, survey="1001-9"), 404),
        (AnswerGiven("4040", "4040-1", 3, None, T0), 404),
        (answer(6, T0 + timedelta(hours=1)), 422),
        (answer(0, T0 + timedelta(hours=1)), 422),
        (answer(3, T0 + timedelta(days=7)), 410),
    ],
)
def test_answers_that_cannot_be_taken_say_why(given: AnswerGiven, status: int) -> None:
    run = Run()
    run.solved(T0)
    with pytest.raises(AnswerRefused) as refused:
        run(given, given.at)
    assert refused.value.status == status


def test_a_low_csat_is_a_detractor_and_supervisors_are_asked_to_call_back() -> None:
    run = Run()
    run.solved(T0)
    at = T0 + timedelta(hours=1)
    responded, detractor, call_back = run(answer(2, at, comment="slow"), at)
    assert responded.type == "kefu.survey.responded"
    assert detractor.type == "kefu.survey.detractor"
    assert (detractor.data.score, detractor.data.comment, detractor.data.agent_id) == (
        2,
        "slow",
        "a1",
    )
    assert (call_back.data.to, call_back.data.template) == ("role:supervisor", "detractor")
    assert call_back.data.params["call_back_by"] == "2026-11-24 10:00 UTC"
    assert call_back.data.params["customer"] == "jane@example.com"


@pytest.mark.parametrize(
    ("kind", "score", "detractor"),
    [("csat", 3, False), ("nps", 6, True), ("nps", 7, False), ("nps", 0, True)],
)
def test_detractor_thresholds(kind: str, score: int, detractor: bool) -> None:
    run = Run(kind=kind)
    run.solved(T0)
    events = run(answer(score, T0), T0)
    assert ("kefu.survey.detractor" in [e.type for e in events]) is detractor


def test_an_sms_reply_intake_marked_is_the_answer() -> None:
    run = Run(kind="nps")
    run.solved(T0, channel="sms")
    at = T0 + timedelta(minutes=3)
    reply = ev.customer_wrote("1001", at, text=" 9 ", channel="sms", survey_id="1001-1")
    [responded] = run(reply, at)
    assert (responded.data.score, responded.data.comment) == (9, None)
    assert run.state.surveys[0].answer.via == "sms"


def test_sms_replies_that_cannot_answer_stay_messages() -> None:
    run = Run()
    run.solved(T0, channel="sms")
    at = T0 + timedelta(minutes=3)
    assert run(ev.customer_wrote("1001", at, text="9", channel="sms", survey_id="1001-1"), at) == []
    assert run(ev.customer_wrote("1001", at, text="5", channel="sms"), at) == []
    assert run(ev.customer_wrote("1001", at, text="5", channel="sms", survey_id="1001-1"), at)
    assert run(ev.customer_wrote("1001", at, text="4", channel="sms", survey_id="1001-1"), at) == []


def test_the_agent_is_the_assignee_when_the_system_solved_it() -> None:
    run = Run()
    run(ev.opened("1001", T0), T0)
    run(ev.assigned("1001", "agent-7", T0), T0)
    solved = ev.StatusChanged(ticket_id="1001", from_status="open", to="solved", by="system", at=T0)
    run(ev.event(solved, T0), T0)
    [responded] = run(answer(5, T0), T0)
    assert responded.data.agent_id == "agent-7"


def test_routing_before_opened_is_kept() -> None:
    run = Run()
    run(ev.assigned("1001", "agent-3", T0), T0)
    run(ev.opened("1001", T0), T0)
    solved = ev.StatusChanged(ticket_id="1001", from_status="open", to="solved", by="system", at=T0)
    run(ev.event(solved, T0), T0)
    assert run.state.surveys[0].agent_id == "agent-3"
    assert run.state.customer.address == "jane@example.com"


def test_the_decision_is_the_same_when_decided_again() -> None:
    first, second = Run(delay="10m"), Run(delay="10m")
    for run in (first, second):
        run.solved(T0)
        run(Tick("1001"), T0 + timedelta(minutes=10))
    assert [e.to_bytes() for e in first.events] == [e.to_bytes() for e in second.events]


def test_a_recategorised_then_merged_ticket_is_closed_without_a_survey() -> None:
    run = Run()
    run(ev.opened("1001", T0), T0)
    assert run(ev.category("1001", ["billing", "refund", "x"], T0), T0) == []
    for event in ev.merged("1001", "1002", T0 + timedelta(minutes=5)):
        assert run(event, T0 + timedelta(minutes=5)) == []
    assert run.state.status == "closed" and run.state.wake_at() is None

"""What due notifications come to (services/notify/decision.py), with plain values and the
jitter injected: backoff, Retry-After, the last attempt, quiet hours, and recovery."""

from datetime import UTC, datetime, timedelta

from kefu.services.notify.decision import Outcomes
from kefu.services.notify.plan import Notification
from kefu.services.notify.providers import Outcome
from kefu.shared.policy import Notify

NOW = datetime(2026, 12, 3, 9, tzinfo=UTC)
NOTE = Notification(
    id="notify:e1:customer",
    ticket_id="1001",
    audience="customer",
    channel="email",
    to="wang@example.com",
    template="ticket_opened",
    locale="zh-CN",
    due_at=NOW,
)
POLICY = Notify(max_attempts=4, retry_base=timedelta(seconds=2), retry_max=timedelta(seconds=10))


def outcomes(document: dict, jitter: float = 0.5) -> Outcomes:
    return Outcomes(POLICY, NOW, {NOTE.id: document}, {}, lambda: jitter)


def test_a_transient_failure_waits_an_exponential_backoff_times_the_jitter() -> None:
    for attempts_before, jitter, wait_s in (
        (0, 0.5, 1),
        (1, 1.0, 4),
        (2, 0.75, 6),
        (0, 0.99, 1.98),
    ):
        decided = outcomes({"status": "pending", "attempts": attempts_before}, jitter)
        change = decided.tried(NOTE, Outcome(False, error="421 busy", transient=True))
        assert change == {"status": "pending", "attempts": attempts_before + 1, "error": "421 busy"}
        assert decided.later == {NOTE.id: NOW + timedelta(seconds=wait_s)}
        [failed] = decided.events
        assert not failed.data.final and failed.id == f"{NOTE.id}:failed:{attempts_before + 1}"


def test_the_wait_is_capped_and_retry_after_wins() -> None:
    decided = outcomes({"status": "pending", "attempts": 3 - 1}, 1.0)
    decided.tried(NOTE, Outcome(False, transient=True))
    assert decided.later[NOTE.id] == NOW + timedelta(seconds=8)
    patient = POLICY.model_copy(update={"max_attempts": 20})
    capped = Outcomes(patient, NOW, {NOTE.id: {"attempts": 10}}, {}, lambda: 1.0)
    capped.tried(NOTE, Outcome(False, transient=True))
    assert capped.later[NOTE.id] == NOW + timedelta(seconds=10)
    asked = outcomes({"status": "pending"})
    asked.tried(NOTE, Outcome(False, transient=True, retry_after_s=120))
    assert asked.later[NOTE.id] == NOW + timedelta(seconds=120)


def test_the_last_attempt_or_a_permanent_failure_is_final() -> None:
    last = outcomes({"status": "pending", "attempts": 3})
    assert last.tried(NOTE, Outcome(False, transient=True))["status"] == "failed"
    assert last.later == {} and last.events[0].data.final
    permanent = outcomes({"status": "pending"})
    assert permanent.tried(NOTE, Outcome(False, error="550 no such user"))["status"] == "failed"
    assert permanent.later == {}


def test_a_sent_notification_records_its_provider_id() -> None:
    decided = outcomes({"status": "pending", "attempts": 1})
    change = decided.tried(NOTE, Outcome(True, provider_id="<m1@kefu>"))
    assert change == {"status": "sent", "attempts": 2, "provider_id": "<m1@kefu>"}
    assert [e.id for e in decided.events] == [f"{NOTE.id}:sent"]


def test_quiet_hours_hold_once_and_send_when_they_end() -> None:
    until = NOW + timedelta(hours=8)
    first = outcomes({"status": "pending"})
    first.quiet(NOTE, until, "defer")
    assert first.later == {NOTE.id: until} and first.changes == {NOTE.id: {"held": True}}
    assert [e.id for e in first.events] == [f"{NOTE.id}:held:quiet_hours"]
    again = outcomes({"status": "pending", "held": True})
    again.quiet(NOTE, until, "defer")
    assert again.later == {NOTE.id: until} and again.events == [] and again.changes == {}
    dropped = outcomes({"status": "pending"})
    dropped.quiet(NOTE, until, "suppress")
    assert dropped.changes[NOTE.id] == {"status": "suppressed", "reason": "quiet_hours"}


def test_a_mail_handed_over_before_a_crash_is_sent_and_never_sent_again() -> None:
    decided = outcomes({"status": "sending", "attempts": 0, "provider_id": "<m1@kefu>"})
    decided.recovered(NOTE, "sending")
    assert decided.changes[NOTE.id]["status"] == "sent"
    assert [e.id for e in decided.events] == [f"{NOTE.id}:sent"]

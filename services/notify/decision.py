"""What a batch of due notifications comes to, pure: each one suppressed, held for quiet
hours, recovered after a crash, or tried, as document changes, events and later tries.

A failed try that may be tried again waits an exponential backoff (policy `retry_base`,
doubling, at most `retry_max`) times a jitter drawn in [0.5, 1) that the caller injects,
so replicas and tickets spread out, or the Retry-After the provider asked for.
"""

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from kefu.services.notify.plan import Notification, TicketContext
from kefu.services.notify.providers import Outcome
from kefu.shared.events import CloudEvent, new_event
from kefu.shared.events.base import EventData
from kefu.shared.events.notify import NotifyFailed, NotifySent, NotifySuppressed
from kefu.shared.policy import Notify as NotifyPolicy

SOURCE = "kefu/notify"
Event = CloudEvent[Any]


class Outcomes:
    """What one batch of due notifications comes to: document changes, events, later tries."""

    def __init__(
        self,
        policy: NotifyPolicy,
        now: datetime,
        documents: dict[str, dict[str, Any]],
        contexts: dict[str, TicketContext | None],
        jitter: Callable[[], float],
    ) -> None:
        self.policy = policy
        self.now = now
        self.jitter = jitter
        self.documents = documents
        self.contexts = contexts
        self.changes: dict[str, dict[str, Any]] = {}
        self.events: list[Event] = []
        self.later: dict[str, datetime] = {}

    def suppress(self, note: Notification, reason: str) -> None:
        self.changes[note.id] = {"status": "suppressed", "reason": reason}
        self._suppressed(note, reason, f"suppressed:{reason}")

    def quiet(self, note: Notification, until: datetime, mode: str) -> None:
        if mode == "suppress":
            self.suppress(note, "quiet_hours")
            return
        self.later[note.id] = until  # held: sent when the window ends, said once
        if not self.documents[note.id].get("held"):
            self.changes[note.id] = {"held": True}
            self._suppressed(note, "quiet_hours", "held:quiet_hours")

    def recovered(self, note: Notification, status: str) -> None:
        """A notification whose last try ended before its timer was done: its outcome is
        announced again (the same event ids). `sending` means a mail's content had gone to
        the server when the process died: it was delivered, and is never sent again."""
        document = self.documents[note.id]
        attempts, provider_id = document.get("attempts", 0), document.get("provider_id")
        if status == "sending":
            self.changes[note.id] = self.tried(note, Outcome(True, provider_id))
        elif status == "sent":
            self._sent(note, provider_id, attempts)
        elif status == "suppressed":
            reason = document.get("reason", "opted_out")
            self._suppressed(note, reason, f"suppressed:{reason}")
        elif status == "failed":
            self._failed(note, document.get("error") or "unknown", attempts, final=True)

    def tried(self, note: Notification, outcome: Outcome) -> dict[str, Any]:
        """The change to a notification's document after a try; its event is kept."""
        attempts = self.documents[note.id].get("attempts", 0) + 1
        if outcome.sent:
            self._sent(note, outcome.provider_id, attempts)
            return {"status": "sent", "attempts": attempts, "provider_id": outcome.provider_id}
        final = not outcome.transient or attempts >= self.policy.max_attempts
        if not final:
            self.later[note.id] = self.now + self._backoff(attempts, outcome.retry_after_s)
        self._failed(note, outcome.error or "unknown", attempts, final)
        status = "failed" if final else "pending"
        return {"status": status, "attempts": attempts, "error": outcome.error}

    def _sent(self, note: Notification, provider_id: str | None, attempts: int) -> None:
        data = NotifySent(
            notification_id=note.id,
            ticket_id=note.ticket_id,
            channel=note.channel,
            template=note.template,
            provider_id=provider_id,
            attempts=attempts,
            at=self.now,
        )
        self._event(data, "sent")

    def _failed(self, note: Notification, error: str, attempts: int, final: bool) -> None:
        data = NotifyFailed(
            notification_id=note.id,
            ticket_id=note.ticket_id,
            channel=note.channel,
            error=error,
            attempts=attempts,
            final=final,
            at=self.now,
        )
        self._event(data, f"failed:{attempts}")

    def _suppressed(self, note: Notification, reason: str, suffix: str) -> None:
        data = NotifySuppressed(
            notification_id=note.id, ticket_id=note.ticket_id, reason=reason, at=self.now
        )
        self._event(data, suffix)

    def _backoff(self, attempts: int, retry_after_s: float | None) -> timedelta:
        if retry_after_s is not None:
            return timedelta(seconds=retry_after_s)
        wait = min(self.policy.retry_max, self.policy.retry_base * 2 ** (attempts - 1))
        return wait * self.jitter()

    def _event(self, data: EventData, suffix: str) -> None:
        event = new_event(
            data,
            id=f"{data.notification_id}:{suffix}",
            source=SOURCE,
            correlationid=data.notification_id,
            time=self.now,
        )
        self.events.append(event)

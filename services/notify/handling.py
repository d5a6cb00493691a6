"""Notify's two halves.

Reading: each batch of events updates the tickets' contexts (a version compare-and-swap per
ticket, decided again on a lost race), inserts the notifications they call for under their
deterministic ids (an id already there is a redelivery: nothing new), each with its timer
armed (shared/timers.py, held in the notification's document), due at once (or when an
acknowledgement stops waiting).

Sending: the durable timers (shared/timers.py) hand each due notification to exactly one
replica, under a lease. It is suppressed (opted out; quiet hours with `suppress`), deferred
to the end of quiet hours, or sent; a transient failure is tried again after an exponential
backoff with jitter (or the Retry-After asked for) until `max_attempts`. A mail's document
says "handed over" before its content goes to the server, by one conditional write from
pending, so that of two replicas holding it (a lease that ran out while the store stalled)
only one hands it over; outcomes are recorded before they
are published; a notification whose document says it is handed over, sent or failed is never
sent again, whatever is redelivered, restarted or killed.
"""

import asyncio
import random
from collections.abc import Callable
from datetime import datetime
from typing import Any

from kefu.services.notify.compose import email_message
from kefu.services.notify.decision import Outcomes
from kefu.services.notify.plan import Notification, Plan, Rules, TicketContext, plan
from kefu.services.notify.providers import Mailer, Outcome, Web
from kefu.services.notify.quiet import quiet_until
from kefu.services.notify.signing import unsubscribe_token
from kefu.services.notify.store import NotifyStore, optout_key
from kefu.services.notify.templates import Templates
from kefu.shared.bus import Bus
from kefu.shared.consumer import Input, Rejected
from kefu.shared.customer_links import customer_link
from kefu.shared.decisions import Played, Slot, Write, settle
from kefu.shared.events import CloudEvent
from kefu.shared.events.base import utc_now
from kefu.shared.logs import get_logger
from kefu.shared.settings import Settings
from kefu.shared.timers import Due

SENDING_AT_ONCE = 20
log = get_logger("kefu.notify")
Event = CloudEvent[Any]


class Notify:
    def __init__(
        self,
        bus: Bus,
        store: NotifyStore,
        rules: Rules,
        settings: Settings,
        jitter: Callable[[], float] = lambda: random.uniform(0.5, 1.0),
    ) -> None:
        self.bus = bus
        self.jitter = jitter
        self.store = store
        self.rules = rules
        self.settings = settings
        self.templates = Templates(settings.templates_dir, settings.default_locale)
        self.mailer = Mailer(settings)
        self.web = Web(settings, rules.notify.sms_gateway)
        self._sending = asyncio.Semaphore(SENDING_AT_ONCE)

    async def handle(self, inputs: list[Input[Event]]) -> list[Rejected]:
        notes, wake = await self._plan(inputs)
        await self.store.create(notes)
        await self.store.wake(wake)
        return []

    async def _plan(self, inputs: list[Input[Event]]) -> tuple[list[Notification], list[str]]:
        """Every input planned on its ticket's context; inputs whose ticket another replica
        changed meanwhile are planned again on the fresh context. Planning is repeatable (the
        notifications' ids are deterministic), so contexts keep no applied ids."""
        notes: list[Notification] = []
        wake: list[str] = []

        async def play(pending: list[Input[Event]], _: int) -> Played[Input[Event]]:
            slots = await self.store.tickets.load(subject(one) for one in pending)
            planned: dict[str, list[Plan]] = {}
            for one in pending:
                slot: Slot[TicketContext] = slots[subject(one)]
                result = plan(slot.state, one.value, one.record.value.decode(), self.rules)
                if result.context is not None and result.context != slot.state:
                    slot.replace(result.context)
                planned.setdefault(slot.key, []).append(result)

            def beaten(lost: list[set[str]]) -> list[Input[Event]]:
                [gone] = lost
                for result in (r for key, rs in planned.items() if key not in gone for r in rs):
                    notes.extend(result.notifications)
                    wake.extend(result.wake)
                return [one for one in pending if subject(one) in gone]

            return Played([Write(self.store.tickets, slots)], beaten)

        await settle(inputs, play)
        return notes, wake

    async def fire(self, due: list[Due]) -> None:
        documents = await self.store.load(one.key for one in due)
        notes = {k: Notification.model_validate({"id": k, **d}) for k, d in documents.items()}
        pending = [note for k, note in notes.items() if documents[k]["status"] == "pending"]
        customers = [note for note in pending if note.audience == "customer"]
        contexts = await self.store.tickets.load(note.ticket_id for note in customers)
        opted = await self.store.opted_out(optout_key(n.channel, n.to) for n in customers)
        known = {k: s.state for k, s in contexts.items()}
        decided = Outcomes(self.rules.notify, utc_now(), documents, known, self.jitter)
        sends = []
        for key, note in notes.items():
            status = documents[key]["status"]
            if status != "pending":
                decided.recovered(note, status)  # the last try died before it was done
            elif note.audience == "customer" and optout_key(note.channel, note.to) in opted:
                decided.suppress(note, "opted_out")
            elif note.audience == "customer" and (until := self._quiet(note, decided.now)):
                decided.quiet(note, until, self.rules.notify.quiet_hours.mode)
            else:
                sends.append(note)
        outcomes = await asyncio.gather(*(self._send(note, decided.contexts) for note in sends))
        for note, outcome in zip(sends, outcomes, strict=True):
            if not outcome.elsewhere:
                decided.changes[note.id] = decided.tried(note, outcome)
        await self.store.record(decided.changes, decided.later)
        await self.bus.publish(*decided.events)

    def _quiet(self, note: Notification, now: datetime) -> datetime | None:
        return quiet_until(self.rules.notify.quiet_hours, note.priority, now)

    async def _send(self, note: Notification, contexts: dict[str, TicketContext | None]) -> Outcome:
        async with self._sending:
            try:
                return await self._deliver(note, contexts.get(note.ticket_id))
            except Exception as error:  # a template or provider bug: that notification fails
                log.exception("sending failed", notification_id=note.id, ticket_id=note.ticket_id)
                return Outcome(False, error=f"{type(error).__name__}: {error}")

    async def _deliver(self, note: Notification, context: TicketContext | None) -> Outcome:
        if note.channel == "webhook":
            hook = next(h for h in self.rules.notify.webhooks if h.url == note.to)
            event_id = note.params["event_id"]
            return await self.web.webhook(hook, note.body or "", event_id)
        params = self._params(note, context)
        if note.channel == "sms":
            return await self.web.sms(
                note.to, self.templates.sms(note.template, note.locale, params)
            )
        email = self.templates.email(note.template, note.locale, params)
        unsubscribe = params.get("unsubscribe_url") if note.audience == "customer" else None
        message = email_message(note, email, self.settings.mail_from, context, unsubscribe)

        async def committing() -> bool:
            return await self.store.hand_over(note.id, message["Message-ID"])

        return await self.mailer.send(message, note.to, committing)

    def _params(self, note: Notification, context: TicketContext | None) -> dict[str, Any]:
        token = unsubscribe_token(
            self.settings.signing_secret("notify_secret"), note.channel, note.to
        )
        due = context.first_response_due if context else None
        customer = note.audience == "customer"  # the customer's link is for them only
        return {
            "ticket_id": note.ticket_id,
            "subject": context.subject if context else None,
            "name": context.name if context else None,
            "priority": context.priority if context else note.priority,
            "first_response_due": self._when(due) if due else None,
            "unsubscribe_url": f"{self.settings.notify_url}/v1/unsubscribe?token={token}",
            "ticket_url": customer_link(self.settings, note.ticket_id) if customer else None,
            **note.params,
        }

    def _when(self, instant: datetime) -> str:
        zone = self.rules.notify.zone()
        return f"{instant.astimezone(zone):%Y-%m-%d %H:%M} ({zone.key})"

    async def close(self) -> None:
        await self.mailer.close()
        await self.web.close()


def subject(one: Input[Event]) -> str:
    return one.value.data.event_subject()

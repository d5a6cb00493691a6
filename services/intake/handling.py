"""Intake's handlers: decode → load state → decide → store → publish (the guard commits).

Every input is keyed (`<channel>:<message_id>`, `agent:<command_id>`). A published key is
skipped; a recorded but unpublished one (a crash in between) is published again as recorded.
"""

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from aiokafka import ConsumerRecord

from services.intake.actions import decide_command, presence_event
from services.intake.classify import classify
from services.intake.conversation import (
    Conversation,
    NewTicket,
    ThreadKeys,
    choose_thread,
    thread_keys,
)
from services.intake.store import IntakeStore
from services.intake.tickets import joined, joining_events, opened_conversation, opening_events
from shared.bus import Bus
from shared.events import CloudEvent
from shared.events.base import utc_now
from shared.guard import PoisonMessage
from shared.inbound import ChannelMessage, PresenceCommand, TicketCommand
from shared.logs import get_logger
from shared.policy import Policy
from shared.settings import Settings

log = get_logger("kefu.intake")
Events = list[CloudEvent[Any]]
Decided = tuple[Events, Conversation | None]  # the events, and the ticket they open if any


class Intake:
    def __init__(self, bus: Bus, store: IntakeStore, policy: Policy, settings: Settings) -> None:
        self.bus = bus
        self.store = store
        self.policy = policy
        self.settings = settings

    async def on_message(self, message: ChannelMessage) -> None:
        await self._once(message.dedupe_key, lambda now: self._thread(message, now))

    async def on_command(self, command: TicketCommand) -> None:
        key = f"agent:{command.command_id}"
        await self._once(key, lambda now: self._change(command, key, now))

    async def on_presence(self, command: PresenceCommand, raw: ConsumerRecord[Any, Any]) -> None:
        """Presence may come without a command id; then the record's place names the event."""
        at = datetime.fromtimestamp(raw.timestamp / 1000, UTC)
        if command.command_id is None:
            event_id = f"intake:presence:{raw.topic}:{raw.partition}:{raw.offset}"
            await self.bus.publish(presence_event(command, event_id, at))
            return
        key = f"agent:{command.command_id}"

        async def decide(now: datetime) -> Decided:
            return [presence_event(command, f"intake:{key}", at)], None

        await self._once(key, decide)

    async def _once(self, key: str, decide: Callable[[datetime], Awaitable[Decided]]) -> None:
        """Decide and record the input's events unless it was recorded before; publish them
        unless they were published before."""
        record = await self.store.recorded(key)
        if record is None:
            now = utc_now()
            events, opens = await decide(now)
            record = await self.store.record(key, events, now, opens)
        await self._deliver(key, record)

    async def _thread(self, message: ChannelMessage, now: datetime) -> Decided:
        """The message's events, and the conversation it opens if it opens a ticket."""
        key, keys = message.dedupe_key, thread_keys(message)
        while True:
            tickets = await self.store.candidates(keys)
            if held := next(filter(None, (t.held_events(key) for t in tickets)), None):
                return held, None
            received_at = message.received_at or now
            choice = choose_thread(keys, tickets, received_at, self.policy.threading.window)
            if isinstance(choice, NewTicket):
                return await self._open(message, keys, now, choice.follow_up_of)
            ticket = choice.ticket
            events = joining_events(message, ticket, choice.reopens, now)
            if await self.store.change_ticket(joined(ticket, message, now), key, events):
                return events, None
            log.info("ticket changed meanwhile, threading again", ticket_id=ticket.ticket_id)

    async def _open(
        self, message: ChannelMessage, keys: ThreadKeys, now: datetime, follow_up_of: str | None
    ) -> tuple[Events, Conversation]:
        classified = classify(
            self.policy.classification,
            channel=message.channel,
            subject=message.subject,
            text=message.text,
            customer_tier=message.customer_tier,
        )
        ticket_id = await self.store.next_ticket_id()
        events = opening_events(
            message,
            ticket_id,
            classified,
            now,
            locale=self.settings.default_locale,
            follow_up_of=follow_up_of,
        )
        return events, opened_conversation(message, keys, events[0].data)

    async def _change(self, command: TicketCommand, key: str, now: datetime) -> Decided:
        while True:
            ticket = await self.store.ticket(command.ticket_id)
            if ticket is None:
                raise PoisonMessage(f"ticket {command.ticket_id} does not exist")
            if (held := ticket.held_events(key)) is not None:
                return held, None
            events, changed = decide_command(command, ticket, now)
            if not events:
                log.info("no change: the ticket is already so", ticket_id=ticket.ticket_id)
                return events, None
            if await self.store.change_ticket(changed, key, events):
                return events, None

    async def _deliver(self, key: str, record: dict[str, Any]) -> None:
        if record.get("published"):
            log.info("duplicate input skipped", input_key=key)
            return
        if record.get("opens"):
            await self.store.open_ticket(record["opens"])
        events = self.store.events_of(record)
        await self.bus.publish(*events)
        log.debug("published", event_ids=[event.id for event in events])
        await self.store.mark_published(key)

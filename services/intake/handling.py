"""Intake's batch handler: customer messages and agent actions, decided on the decision
unit's ticket documents (shared/decisions.py).

A round: look up every thread key of the batch (one `$in`), load the tickets they name and
the tickets commands name (one `$in`), decide input after input in order (a reply may join a
ticket an earlier message of the same batch opened), write the tickets (one `insert_many`,
one `bulk_write`). An input whose ticket another replica changed meanwhile is decided again
in the next round, which also finds tickets by the message that opened them (a replay after
a crash before the keys were written). Finally every unpublished event is published while
the thread keys are pointed at their tickets (both need only the tickets written).

A merged ticket's keys still name it; the load also reads the tickets merged tickets were
merged into (one more `$in`, only when a merged ticket was read), so a message that threads
to a merged ticket joins its target, and a merge reads its target beside its source
(services/intake/merging.py says why that is enough).
"""

import asyncio
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kefu.services.intake.actions import (
    CommandRejected,
    InvalidCommand,
    decide_command,
    presence_event,
    refusal_event,
)
from kefu.services.intake.classify import classify
from kefu.services.intake.conversation import (
    MAX_MERGES,
    Conversation,
    JoinTicket,
    NewTicket,
    ThreadKeys,
    choose_thread,
    message_ref,
    own_keys,
    survey_key,
    thread_keys,
    token_key,
)
from kefu.services.intake.store import IntakeStore
from kefu.services.intake.tickets import (
    FOLLOWED,
    followed,
    joined,
    joining_events,
    opened_conversation,
    opening_events,
)
from kefu.shared.bus import Bus
from kefu.shared.consumer import Input, Rejected
from kefu.shared.decisions import Slot, publish_and_mark
from kefu.shared.events import CloudEvent
from kefu.shared.events.agent import AgentStatusChanged
from kefu.shared.events.base import utc_now
from kefu.shared.events.notify import CUSTOMER_CHANNEL
from kefu.shared.events.survey import SurveyIssued
from kefu.shared.events.ticket import MessageReceived, Reopened, TicketOpened
from kefu.shared.inbound import ChannelMessage, MergeCommand, PresenceCommand, TicketCommand
from kefu.shared.logs import get_logger
from kefu.shared.policy import Policy
from kefu.shared.settings import Settings

Inbound = ChannelMessage | PresenceCommand | TicketCommand | InvalidCommand | CloudEvent[Any]
log = get_logger("kefu.intake")


@dataclass
class Round:
    """One round of decisions over the tickets and agents a batch touches."""

    policy: Policy
    settings: Settings
    now: datetime
    index: dict[str, str]  # thread key → ticket id, with this round's decisions
    known: dict[str, str]  # thread key → ticket id, as read
    tickets: dict[str, Slot[Conversation]]
    agents: dict[str, Slot[AgentStatusChanged]]
    openers: dict[str, Slot[Conversation]]  # opening message's thread key → its ticket
    new_ticket_id: Callable[[], str]
    keys_of: dict[int, ThreadKeys]
    ticket_of: dict[int, str] = field(default_factory=dict)  # input → the ticket it decided on
    pointers: dict[int, dict[str, str]] = field(default_factory=dict)
    refused: list[Rejected] = field(default_factory=list)
    refusals: dict[int, CloudEvent[Any]] = field(default_factory=dict)  # input → agent told

    def decide(self, one: Input[Inbound]) -> None:
        match one.value:
            case ChannelMessage():
                self._message(one, one.value)
            case PresenceCommand():
                self._presence(one, one.value)
            case CloudEvent():
                self._follow(one, one.value)
            case InvalidCommand() as invalid:
                self._refuse(one, invalid, invalid.reason)
            case _:
                self._command(one, one.value)

    def _message(self, one: Input[Any], message: ChannelMessage) -> None:
        own, keys = message_ref(message.channel, message.message_id), self.keys_of[id(one)]
        if own in self.index:  # handled before; its ticket publishes whatever is left
            self.ticket_of[id(one)] = self.index[own]
            return
        opener = self.openers.get(own)
        slot, answers = (opener, False) if opener else self._thread(message, keys)
        self.ticket_of[id(one)] = slot.key
        self.pointers[id(one)] = own_keys(message, keys, slot.key, answers)
        self.index.update(self.pointers[id(one)])

    def _thread(self, message: ChannelMessage, keys: ThreadKeys) -> tuple[Slot[Conversation], bool]:
        """The message's ticket, and whether the message answers its survey."""
        received_at = message.received_at or self.now
        found = self._found(keys)
        rules, targets = self.policy.threading, self._merge_targets(found.values())
        choice = choose_thread(keys, found, received_at, rules, targets)
        if isinstance(choice, JoinTicket):
            slot = self.tickets[choice.ticket.ticket_id]
            if not slot.has_applied(message.dedupe_key):
                events = joining_events(message, choice, self.now)
                slot.record(message.dedupe_key, joined(choice, message, self.now), events)
            return slot, choice.answers is not None
        slot = Slot(self.new_ticket_id())
        events = self._opening(message, slot.key, choice)
        slot.record(message.dedupe_key, opened_conversation(message, events[0].data), events)
        self.tickets[slot.key] = slot
        return slot, False

    def _found(self, keys: ThreadKeys) -> dict[str, Conversation]:
        """The ticket each of the message's thread keys names."""
        named = {key: self.index[key] for key in keys.indexed() if key in self.index}
        if keys.ticket_token:
            named[token_key(keys.ticket_token)] = keys.ticket_token
        return {
            key: slot.state
            for key, ticket_id in named.items()
            if (slot := self.tickets.get(ticket_id)) and slot.state
        }

    def _merge_targets(self, named: Iterable[Conversation]) -> dict[str, Conversation]:
        """The tickets that merged tickets among `named` were merged into, and theirs."""
        targets: dict[str, Conversation] = {}
        for ticket in named:
            while ticket.merged_into and ticket.merged_into not in targets:
                slot = self.tickets.get(ticket.merged_into)
                if slot is None or slot.state is None:
                    break
                ticket = targets[slot.key] = slot.state
        return targets

    def _opening(self, message: ChannelMessage, ticket_id: str, choice: NewTicket) -> Any:
        classified = classify(
            self.policy.classification,
            channel=message.channel,
            subject=message.subject,
            text=message.text,
            customer_tier=message.customer_tier,
        )
        locale = self.settings.default_locale
        return opening_events(
            message,
            ticket_id,
            classified,
            self.now,
            locale=locale,
            follow_up_of=choice.follow_up_of,
            related_to=choice.related_to,
        )

    def _command(self, one: Input[Any], command: TicketCommand) -> None:
        slot, key = self.tickets.get(command.ticket_id), f"agent:{command.command_id}"
        if slot is None or slot.state is None:
            self._refuse(one, command, f"ticket {command.ticket_id} does not exist")
            return
        self.ticket_of[id(one)] = slot.key
        if slot.has_applied(key):
            return
        into = None
        if isinstance(command, MergeCommand):  # its target as this round sees it
            target = self.tickets.get(command.into_ticket_id)
            into = target.state if target else None
        try:
            events, changed = decide_command(command, slot.state, self.now, into)
        except CommandRejected as error:
            self._refuse(one, command, str(error))
            return
        slot.record(key, changed, events)

    def _refuse(
        self, one: Input[Any], command: TicketCommand | InvalidCommand, reason: str
    ) -> None:
        """To the DLQ with the reason, and the agent is told."""
        self.refused.append(Rejected(one, reason))
        self.refusals[id(one)] = refusal_event(command, reason, self.now)

    def _follow(self, one: Input[Any], event: CloudEvent[Any]) -> None:
        """survey.events (which surveys are open to SMS replies, and from which number) and
        routing.events (each ticket's assignee)."""
        slot = self.tickets.get(event.data.ticket_id)
        if slot is None or slot.state is None:  # not a ticket of this intake's
            return
        self.ticket_of[id(one)] = slot.key
        ticket = slot.state
        after = followed(ticket, event.data)
        if after == ticket or slot.has_applied(event.id):
            return  # a queued ticket, say: nothing to write
        slot.record(event.id, after, [])
        if isinstance(event.data, SurveyIssued) and CUSTOMER_CHANNEL.get(ticket.channel) == "sms":
            self.pointers[id(one)] = {survey_key(ticket.customer_address): slot.key}
            self.index.update(self.pointers[id(one)])

    def lost(self, one: Input[Inbound], tickets: set[str], agents: set[str]) -> bool:
        """Whether another writer beat this input's ticket or agent document."""
        if isinstance(one.value, PresenceCommand):
            return one.value.agent_id in agents
        return self.ticket_of.get(id(one)) in tickets

    def _presence(self, one: Input[Any], command: PresenceCommand) -> None:
        """Presence may come without a command id; then the record's place names it."""
        record = one.record
        place = f"presence:{record.topic}:{record.partition}:{record.offset}"
        input_id = f"agent:{command.command_id}" if command.command_id else place
        slot = self.agents[command.agent_id]
        if not slot.has_applied(input_id):
            at = datetime.fromtimestamp(record.timestamp / 1000, UTC)
            event = presence_event(command, f"intake:{input_id}", at)
            slot.record(input_id, event.data, [event])


@dataclass
class Decided:
    """What the rounds of one batch have stored, and the inputs refused."""

    tickets: dict[str, Slot[Conversation]] = field(default_factory=dict)
    agents: dict[str, Slot[AgentStatusChanged]] = field(default_factory=dict)
    rejected: list[Rejected] = field(default_factory=list)
    refusals: list[CloudEvent[Any]] = field(default_factory=list)
    pointers: dict[str, str] = field(default_factory=dict)  # thread key → ticket, to write
    known: dict[str, str] = field(default_factory=dict)  # thread key → ticket, as read


class Intake:
    def __init__(self, bus: Bus, store: IntakeStore, policy: Policy, settings: Settings) -> None:
        self.bus = bus
        self.store = store
        self.policy = policy
        self.settings = settings

    async def handle(self, inputs: Sequence[Input[Inbound]]) -> list[Rejected]:
        decided, pending, again = Decided(), [one for one in inputs if _acts_on(one.value)], False
        while pending:
            if again:  # a retry reads the thread keys the winners point at
                await self._point(decided)
            pending, again = await self._round(pending, again, decided), True
        said = [event for slot in decided.tickets.values() for event in slot.unpublished()]
        # The keys only need their tickets written, as publishing does: both at once.
        await asyncio.gather(
            self._point(decided),
            publish_and_mark(
                self.bus.publish,
                (self.store.tickets, decided.tickets.values()),
                (self.store.agents, decided.agents.values()),
            ),
            self.bus.publish(*decided.refusals),
        )
        log_conversations(said)
        return decided.rejected

    async def _point(self, decided: Decided) -> None:
        pointers, decided.pointers = decided.pointers, {}
        await self.store.point(pointers, decided.known)

    async def _round(
        self, inputs: list[Input[Inbound]], again: bool, decided: Decided
    ) -> list[Input[Inbound]]:
        """Decide and store the inputs; those another writer beat, to decide again."""
        round_ = await self._load(inputs, again)
        for one in inputs:
            round_.decide(one)
        lost_tickets = await self.store.tickets.save(round_.tickets.values())
        lost_agents = await self.store.agents.save(round_.agents.values())
        lost = {id(one) for one in inputs if round_.lost(one, lost_tickets, lost_agents)}
        for one in inputs:
            if id(one) not in lost:
                decided.pointers.update(round_.pointers.get(id(one), {}))
        decided.known.update(round_.known)
        decided.tickets.update({k: s for k, s in round_.tickets.items() if k not in lost_tickets})
        decided.agents.update({k: s for k, s in round_.agents.items() if k not in lost_agents})
        decided.rejected += [no for no in round_.refused if id(no.input) not in lost]
        decided.refusals += [e for i, e in round_.refusals.items() if i not in lost]
        return [one for one in inputs if id(one) in lost]

    async def _load(self, inputs: list[Input[Inbound]], again: bool) -> Round:
        """Everything a round reads: thread keys, tickets and agents, one `$in` each."""
        messages = [one for one in inputs if isinstance(one.value, ChannelMessage)]
        keys_of = {id(one): thread_keys(one.value) for one in messages}
        own = [message_ref(one.value.channel, one.value.message_id) for one in messages]
        index = await self.store.tickets_of(
            [*own, *(key for keys in keys_of.values() for key in keys.indexed())]
        )
        unseen = [ref for ref in own if ref not in index]
        openers = await self.store.tickets.load_by("first_ref", unseen) if again else {}
        named = [
            *index.values(),
            *(keys.ticket_token for keys in keys_of.values() if keys.ticket_token),
            *(one.value.ticket_id for one in inputs if getattr(one.value, "ticket_id", None)),
            *(one.value.data.ticket_id for one in inputs if isinstance(one.value, CloudEvent)),
            *(one.value.into_ticket_id for one in inputs if isinstance(one.value, MergeCommand)),
        ]
        tickets = await self.store.tickets.load(named)
        tickets.update({slot.key: slot for slot in openers.values()})
        await self._load_merge_targets(tickets)
        presence = [one.value.agent_id for one in inputs if isinstance(one.value, PresenceCommand)]
        await self.store.reserve_numbers(len(unseen))
        return Round(
            policy=self.policy,
            settings=self.settings,
            now=utc_now(),
            index=index,
            known=dict(index),
            tickets=tickets,
            agents=await self.store.agents.load(presence),
            openers=openers,
            new_ticket_id=self.store.next_ticket_id,
            keys_of=keys_of,
        )

    async def _load_merge_targets(self, tickets: dict[str, Slot[Conversation]]) -> None:
        """Add the tickets that merged tickets among `tickets` were merged into (a chain
        followed MAX_MERGES deep), so that messages to a merged ticket find its target."""
        for _ in range(MAX_MERGES):
            wanted = {
                slot.state.merged_into
                for slot in tickets.values()
                if slot.state and slot.state.merged_into
            } - tickets.keys()
            if not wanted:
                return
            tickets.update(await self.store.tickets.load(wanted))


def _acts_on(value: Inbound) -> bool:
    """Followed events that can change nothing (`queued`) are not even loaded for."""
    return not hasattr(value, "specversion") or isinstance(value.data, FOLLOWED)


def log_conversations(events: list[CloudEvent[Any]], logger: Any = log) -> None:
    """What an operator wants to see at info: each ticket opened, each message that joined one."""
    opened = {e.correlationid for e in events if isinstance(e.data, TicketOpened)}
    for event in events:
        data = event.data
        fields = {
            "ticket_id": data.ticket_id,
            "event_id": event.id,
            "correlation_id": event.correlationid,
        }
        if isinstance(data, TicketOpened):
            links = {"related_to": data.related_to} if data.related_to else {}
            logger.info(
                "ticket opened", channel=data.channel, priority=data.priority, **links, **fields
            )
        elif isinstance(data, MessageReceived) and event.correlationid not in opened:
            logger.info("message joined ticket", channel=data.channel, **fields)
        elif isinstance(data, Reopened):
            logger.info("ticket reopened", **fields)

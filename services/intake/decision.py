"""Intake's decisions for one round, pure: customer messages threaded onto tickets (or
opening new ones, numbered from the numbers reserved before the round), agent commands
applied to their tickets, presence to its agent, and followed events (survey and routing)
noted on their tickets. The handler (handling.py) loads what a round reads, runs it, and
writes what it decided.
"""

from collections.abc import Iterable, Iterator
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
    Conversation,
    JoinTicket,
    NewTicket,
    ThreadKeys,
    choose_thread,
    message_ref,
    own_keys,
    survey_key,
    token_key,
)
from kefu.services.intake.tickets import (
    followed,
    joined,
    joining_events,
    opened_conversation,
    opening_events,
)
from kefu.shared.consumer import Input, Rejected
from kefu.shared.decisions import Slot
from kefu.shared.events import CloudEvent
from kefu.shared.events.agent import AgentStatusChanged
from kefu.shared.events.survey import SurveyIssued
from kefu.shared.inbound import ChannelMessage, MergeCommand, PresenceCommand, TicketCommand
from kefu.shared.policy import Policy
from kefu.shared.settings import Settings

Inbound = ChannelMessage | PresenceCommand | TicketCommand | InvalidCommand | CloudEvent[Any]


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
    numbers: Iterator[str]  # reserved ticket numbers, in order
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
        slot = Slot(next(self.numbers))
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
        if isinstance(event.data, SurveyIssued):  # followed only for SMS customers
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

"""Intake's batch handler: customer messages and agent actions, decided on the decision
unit's ticket documents (shared/decisions.py).

A round: look up every thread key of the batch (one `$in`), load the tickets they name and
the tickets commands name (one `$in`), reserve the ticket numbers it may open, decide input
after input in order (services/intake/decision.py; a reply may join a ticket an earlier
message of the same batch opened), write the tickets (one `insert_many`,
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
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from kefu.services.intake.conversation import MAX_MERGES, Conversation, message_ref, thread_keys
from kefu.services.intake.decision import Inbound, Round
from kefu.services.intake.store import IntakeStore
from kefu.services.intake.tickets import FOLLOWED
from kefu.shared.bus import Bus
from kefu.shared.consumer import Input, Rejected
from kefu.shared.decisions import Played, Slot, Write, settle
from kefu.shared.events import CloudEvent
from kefu.shared.events.base import utc_now
from kefu.shared.events.ticket import MessageReceived, Reopened, TicketOpened
from kefu.shared.inbound import ChannelMessage, MergeCommand, PresenceCommand
from kefu.shared.logs import get_logger
from kefu.shared.policy import Policy
from kefu.shared.settings import Settings

log = get_logger("kefu.intake")


@dataclass
class Decided:
    """What the winning inputs of a batch's rounds leave besides their documents."""

    rejected: list[Rejected] = field(default_factory=list)
    refusals: list[CloudEvent[Any]] = field(default_factory=list)
    pointers: dict[str, str] = field(default_factory=dict)  # thread key → ticket, to write
    known: dict[str, str] = field(default_factory=dict)  # thread key → ticket, as read

    def keep(
        self, round_: Round, inputs: list[Input[Inbound]], lost: list[set[str]]
    ) -> list[Input[Inbound]]:
        """The round's winners kept; the inputs another writer beat, to decide again."""
        tickets, agents = lost
        beaten = [one for one in inputs if round_.lost(one, tickets, agents)]
        gone = {id(one) for one in beaten}
        for one in inputs:
            if id(one) not in gone:
                self.pointers.update(round_.pointers.get(id(one), {}))
        self.known.update(round_.known)
        self.rejected += [no for no in round_.refused if id(no.input) not in gone]
        self.refusals += [e for i, e in round_.refusals.items() if i not in gone]
        return beaten


class Intake:
    def __init__(self, bus: Bus, store: IntakeStore, policy: Policy, settings: Settings) -> None:
        self.bus = bus
        self.store = store
        self.policy = policy
        self.settings = settings

    async def handle(self, inputs: Sequence[Input[Inbound]]) -> list[Rejected]:
        decided = Decided()

        async def play(pending: list[Input[Inbound]], number: int) -> Played[Input[Inbound]]:
            if number:  # a retry reads the thread keys the winners point at
                await self._point(decided)
            round_ = await self._load(pending, again=number > 0)
            for one in pending:
                round_.decide(one)
            writes = [
                Write(self.store.tickets, round_.tickets),
                Write(self.store.agents, round_.agents),
            ]
            return Played(writes, lambda lost: decided.keep(round_, pending, lost))

        stored = await settle([one for one in inputs if _acts_on(one.value)], play)
        said = [e for slot in stored.slots(self.store.tickets) for e in slot.unpublished()]
        # The keys only need their tickets written, as publishing does: both at once.
        await asyncio.gather(
            self._point(decided),
            stored.publish(self.bus.publish),
            self.bus.publish(*decided.refusals),
        )
        log_conversations(said)
        return decided.rejected

    async def _point(self, decided: Decided) -> None:
        pointers, decided.pointers = decided.pointers, {}
        await self.store.point(pointers, decided.known)

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
            numbers=self.store.numbers(),
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

"""The conversation record's consumer: every event the workspace reads becomes its entry, is
folded into its ticket's summary through the decision unit, and settles the command it
answers (services/workspace/decision.py).

A batch: the entries not stored yet are found (one `$in`), the summaries decided and
stored, the commands settled, the `listeners` (the search index) given the new entries,
and only then the entries inserted (one unordered `insert_many`). The insert marks the
entries as told: a crash or a failing listener before it, and the batch read again tells
the listeners again (so they must take an entry twice); after it, a replay finds every
entry stored and inserts and tells nothing.
"""

from collections.abc import Awaitable, Callable
from typing import Any

from kefu.services.workspace.decision import decide, recorded
from kefu.services.workspace.entries import Entry
from kefu.services.workspace.record import Folding, TicketSummary
from kefu.services.workspace.record_store import RecordStore
from kefu.shared.bus import GATHER_S, Bus
from kefu.shared.consumer import Input, Rejected, canonical_event
from kefu.shared.decisions import DecisionUnit
from kefu.shared.events.schema import envelope_schema
from kefu.shared.topics import Topic

Listener = Callable[[list[Entry]], Awaitable[None]]
TICKET_TOPICS = (Topic.TICKET_EVENTS, Topic.ROUTING_EVENTS, Topic.SLA_EVENTS, Topic.SURVEY_EVENTS)
READS = (*TICKET_TOPICS, Topic.AGENT_EVENTS)  # agent.events: the commands intake refused
SCHEMA = envelope_schema(*READS)
ABOUT = "Keeps each ticket's conversation and summary, and the outcomes of commands sent."


class ConversationRecord:
    def __init__(self, bus: Bus, store: RecordStore) -> None:
        self.store = store
        self.listeners: list[Listener] = []
        self.summaries: DecisionUnit[Folding, TicketSummary] = DecisionUnit(
            store.tickets,
            bus.publish,
            key=lambda folding: folding.ticket_id,
            input_id=lambda folding: folding.input_id,
            decide=decide,
        )

    def subscribe(self, bus: Bus) -> None:
        """The workspace's consumer: every topic the record reads, into `handle`."""
        bus.consume(
            *READS,
            decode=canonical_event,
            handle=self.handle,
            schema=SCHEMA,
            description=ABOUT,
            gather_s=GATHER_S,
        )

    async def handle(self, inputs: list[Input[Any]]) -> list[Rejected]:
        batch = recorded([one.value for one in inputs])
        fresh = await self.store.unseen(batch.entries)
        await self.summaries.apply(batch.foldings)
        await self.store.settle(batch.outcomes)
        if fresh:
            for listener in self.listeners:
                await listener(fresh)
            await self.store.keep(fresh)
        return []

"""The router's batch handler: ticket, agent, SLA and surge events become assignments.

A round reads the roster (every agent), the tickets the batch names, the first owners of new
tickets' customers and the surge flag; decides (services/router/decision.py: each event
applied in order to its ticket or agent, the queue served page by page when capacity
appeared, an agent chosen for every ticket that needs one); then writes the agents (taking or
freeing slots: one version-filtered replace each, so no agent ever exceeds its capacity
whatever the replicas), then the tickets with their events. Another writer beat us to an
agent or a ticket: the round starts again on fresh state, and events already applied are
skipped. A ticket's document says who holds it; an agent found holding a ticket whose
document says otherwise (a race lost) gives it up, and one holding a waiting ticket (a crash
between the two writes) gets it when it is routed again, if she still fits.
"""

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import Any

from kefu.services.router.decision import Round, new_owners
from kefu.services.router.store import QUEUE_PAGE, RouterStore
from kefu.services.router.tickets import routes
from kefu.shared.bus import Bus
from kefu.shared.consumer import Input, Rejected
from kefu.shared.decisions import Played, Write, settle
from kefu.shared.events import CloudEvent
from kefu.shared.events.agent import AgentStatusChanged
from kefu.shared.events.base import utc_now
from kefu.shared.events.ticket import TicketOpened
from kefu.shared.logs import get_logger
from kefu.shared.policy import Routing

log = get_logger("kefu.router")
Event = CloudEvent[Any]


class Router:
    def __init__(self, bus: Bus, store: RouterStore, policy: Routing) -> None:
        self.bus = bus
        self.store = store
        self.policy = policy
        self.wake_armed = asyncio.Event()

    async def handle(self, inputs: list[Input[Event]]) -> list[Rejected]:
        events = [one.value for one in inputs if routes(one.value.data)]
        if not events:
            return []

        async def plan(round_: Round) -> None:
            for event in events:
                round_.apply(event)
            round_.reconcile()
            if round_.drain is None:
                round_.route()
                return
            after = ""
            while page := await self.store.waiting(after, round_.lanes()):
                if not round_.serve(page) or len(page) < QUEUE_PAGE:
                    return
                after = max(slot.state.queue_rank for slot in page.values() if slot.state)
            round_.serve({})

        await self._decide(events, plan)
        return []

    async def wake(self) -> None:
        """Route the waiting tickets whose wake_at has come."""

        async def plan(round_: Round) -> None:
            due = await self.store.wake_due(round_.now)
            round_.queue(due)
            round_.reconcile()
            round_.wake(list(due))

        await self._decide([], plan)

    async def wake_when_due(self) -> None:
        """A timer, not a poll: sleep until the earliest wake_at in the queue (woken sooner
        when a ticket is queued), then route what is due. Replicas may both fire; the
        documents' compare-and-swap lets one decide. First, tickets an older router queued
        get their queue keys."""
        await self.store.give_keys()
        while True:
            try:
                due_at = await self.store.next_wake()
                wait = (due_at - utc_now()).total_seconds() if due_at else None
                if wait is None or wait > 0:
                    with suppress(TimeoutError):
                        await asyncio.wait_for(self.wake_armed.wait(), wait)
                    self.wake_armed.clear()
                    continue
                await self.wake()
            except Exception as error:
                log.warning("waking waiting tickets failed, trying again", error=repr(error))
                await asyncio.sleep(1)

    async def _decide(self, events: list[Event], plan: Callable[[Round], Awaitable[None]]) -> None:
        """Rounds until one writes without losing a race (the agents first: a lost agent
        writes no ticket); then the first owners of the written tickets' unpublished
        assignments, the surge flag the rounds learned, and publish what was written."""
        written: list[Round] = []

        async def play(batch: list[bool], _: int) -> Played[bool]:
            round_ = await self._load(events)
            await plan(round_)
            writes = [
                Write(self.store.agents, round_.agents, gate=True),
                Write(self.store.tickets, round_.tickets),
            ]
            return Played(writes, lambda lost: _beaten(round_, lost, written, batch))

        stored = await settle([True], play)  # the batch is one decision, made again if beaten
        known = written[-1].owners if written else {}
        causes = {event.id for event in events}.union(*(round_.causes for round_ in written))
        owners = new_owners(stored.slots(self.store.tickets), known, causes)
        await self.store.remember_owners(owners)
        for round_ in written:
            if round_.surge_set is not None:
                await self.store.set_surge(round_.surge_set)
        await stored.publish(self.bus.publish)
        if any(round_.wake_armed for round_ in written):
            self.wake_armed.set()

    async def _load(self, events: list[Event]) -> Round:
        agents = await self.store.roster()
        leaving = {
            event.data.agent_id
            for event in events
            if isinstance(event.data, AgentStatusChanged) and event.data.status == "offline"
        }
        held = [
            t for a in leaving if a in agents and agents[a].state for t in agents[a].state.tickets
        ]
        named = [event.data.ticket_id for event in events if hasattr(event.data, "ticket_id")]
        customers = [
            event.data.customer.address.lower()
            for event in events
            if isinstance(event.data, TicketOpened)
        ]
        now = utc_now()
        return Round(
            policy=self.policy,
            now=now,
            today=now.astimezone(self.policy.zone()).date().isoformat(),
            agents=agents,
            tickets=await self.store.tickets.load([*named, *held]),
            owners=await self.store.owners_of(customers) if self.policy.sticky_owner else {},
            surge=await self.store.surging(),
        )


def _beaten(
    round_: Round, lost: list[set[str]], written: list[Round], batch: list[bool]
) -> list[bool]:
    """The batch again if the round lost an agent (it wrote nothing) or a ticket."""
    agents, tickets = lost
    if agents:
        log.info("agents changed meanwhile, deciding again", agents=sorted(agents))
        return batch
    written.append(round_)
    if tickets:
        log.info("tickets changed meanwhile, deciding again", tickets=sorted(tickets))
        return batch
    return []

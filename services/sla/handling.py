"""The sla service's handler: ticket and routing events, and timers that came due, decided
on each ticket's state document (shared/decisions.py), then the ticket's timer set to what
comes next.

Events and timers go through one decision unit, one batch at a time in a process (a lock),
so a ticket is never decided twice at once here; replicas meet at the documents' version
compare-and-swap. The timer is armed from the stored state after the events are published,
so a crash before it is repaired by the replay (or by the lease of the timer that fired).
"""

import asyncio
from typing import Any

from services.sla.decision import Tick, deciding, ticket_of
from services.sla.store import SlaStore
from services.sla.targets import Event, Rules
from services.sla.ticket import SlaTicket
from shared.bus import Bus
from shared.consumer import Input, Rejected
from shared.decisions import DecisionUnit, Slot
from shared.timers import Due


def input_id(value: Any) -> str | None:
    return None if isinstance(value, Tick) else value.id


class Sla:
    def __init__(self, bus: Bus, store: SlaStore, rules: Rules) -> None:
        self.timers = store.timers
        self.unit: DecisionUnit[Event | Tick, SlaTicket] = DecisionUnit(
            store.tickets,
            bus.publish,
            key=ticket_of,
            input_id=input_id,
            decide=deciding(rules),
            settled=self._arm,
        )
        self._one_at_a_time = asyncio.Lock()

    async def handle(self, inputs: list[Input[Event]]) -> list[Rejected]:
        async with self._one_at_a_time:
            return await self.unit.handle(inputs)

    async def fire(self, due: list[Due]) -> None:
        async with self._one_at_a_time:
            await self.unit.apply([Tick(one.key) for one in due])

    async def run_timers(self) -> None:
        await self.timers.run(self.fire)

    async def _arm(self, slots: list[Slot[SlaTicket]]) -> None:
        await self.timers.arm({slot.key: slot.state and slot.state.wake_at for slot in slots})

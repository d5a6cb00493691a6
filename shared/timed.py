"""A decision unit whose keys each have a durable timer (shared/decisions.py with
shared/timers.py): events, timers that came due and other inputs (an answer from a page) are
decided on the keys' state documents, one batch at a time in a process, so a key is never
decided twice at once here; replicas meet at the documents' version compare-and-swap. Each
key's timer is armed from the stored state as soon as it is written, before its events are
published: a restarted replica fires it without waiting for the replay (which comes only once
its consumer group has formed), and a crash before arming is repaired by the replay. Held
timers (shared/timers.py) are armed by the state's write itself."""

import asyncio
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from kefu.shared.consumer import Input, Rejected
from kefu.shared.decisions import Decide, DecisionUnit, Publish, Slot, StateCollection
from kefu.shared.errors import PoisonMessage
from kefu.shared.events import CloudEvent
from kefu.shared.timers import Due, Timers

S = TypeVar("S", bound=BaseModel)
I = TypeVar("I")  # noqa: E741


def event_id(value: Any) -> str | None:
    """An event is decided once (its id is kept); a tick or an answer may come again."""
    return value.id if isinstance(value, CloudEvent) else None


class TimedDecisions(Generic[I, S]):
    def __init__(
        self,
        states: StateCollection[S],
        timers: Timers,
        publish: Publish,
        *,
        key: Callable[[I], str],
        decide: Decide[S, I],
        tick: Callable[[str], I],
        wake_at: Callable[[S], datetime | None],
        matters: Callable[[Any], bool] = lambda event: True,
    ) -> None:
        self.timers = timers
        self.matters = matters
        self.tick = tick
        self.wake_at = wake_at
        self.unit: DecisionUnit[I, S] = DecisionUnit(
            states, publish, key=key, input_id=event_id, decide=decide, stored=self._arm
        )
        self._one_at_a_time = asyncio.Lock()

    async def handle(self, inputs: Sequence[Input[Any]]) -> list[Rejected]:
        """The events that `matters` says may change their keys' states (the others are
        not worth a store write)."""
        async with self._one_at_a_time:
            return await self.unit.handle([one for one in inputs if self.matters(one.value)])

    async def apply(
        self, values: Sequence[I], at_once: bool = False
    ) -> list[tuple[int, PoisonMessage]]:
        async with self._one_at_a_time:
            return await self.unit.apply(values, at_once)

    async def fire(self, due: list[Due]) -> None:
        """Any replica fires a due timer, not only the owner of the key's partition."""
        await self.apply([self.tick(one.key) for one in due], at_once=True)

    async def run_timers(self) -> None:
        await self.timers.run(self.fire)

    async def _arm(self, slots: list[Slot[S]]) -> None:
        wanted = {slot.key: self.wake_at(slot.state) if slot.state else None for slot in slots}
        if not self.timers.held:
            await self.timers.arm(wanted)
        elif due := [at for at in wanted.values() if at is not None]:
            self.timers.wake_for(min(due))

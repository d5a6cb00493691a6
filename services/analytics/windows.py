"""KPI snapshots and ops alerts, on the shared durable timers.

One timer per window (`kpi:1m`, `kpi:1h`, `kpi:1d`) is due at the window's next boundary;
whichever replica claims it computes `kefu.kpi.snapshot` for the window that just ended (id
`kpi:<window>:<start>`), keeps it in `analytics_outputs` (a window decided again publishes
what was kept), publishes it, and arms the next boundary. Behind a long stop, the windows
missed are caught up one after another. The minute's timer also runs the surge and staffing
detectors (ids `ops:<detector>:<minute end>`), only for a minute that just ended.
"""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import CollectorRegistry, Gauge

from kefu.services.analytics.kpis import Dimension, Measure, Period
from kefu.services.analytics.ops import StaffingState, SurgeState, staffing_step, surge_step
from kefu.services.analytics.store import AnalyticsStore
from kefu.shared.bus import Bus
from kefu.shared.events import CloudEvent, EventData, decode_event, new_event
from kefu.shared.events.base import utc_now
from kefu.shared.events.ops import KpiSnapshot
from kefu.shared.policy import Analytics
from kefu.shared.store import Document
from kefu.shared.timers import Due

SOURCE = "kefu/analytics"
WINDOWS = {"1m": timedelta(minutes=1), "1h": timedelta(hours=1), "1d": timedelta(days=1)}
SNAPSHOT_BY: tuple[Dimension, ...] = ("channel", "priority")
WEEKS_OF_HISTORY = 4
RECENT = timedelta(minutes=2)  # an older minute is caught up without alerts
# A window's read is background work: in a surge it covers every ticket of the minute, and
# at full speed it starved intake and the SLA timers of the store (`make bench`: 2-5 s p99
# instead of 0.3 s, 50,000 due timers a minute late). A tenth of the time kept both on time
# (a quarter did not); a surge's snapshot comes some seconds later instead.
READ_SHARE = 0.1


def boundary_after(instant: datetime, window: str) -> datetime:
    """The first window boundary after `instant` (windows are aligned on UTC midnight)."""
    size = WINDOWS[window]
    midnight = instant.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight + size * ((instant - midnight) // size + 1)


class Windows:
    def __init__(
        self,
        bus: Bus,
        store: AnalyticsStore,
        policy: Analytics,
        clock: Callable[[], datetime] = utc_now,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.bus = bus
        self.store = store
        self.policy = policy
        self.clock = clock
        self.queue_length = Gauge(
            "kefu_queue_length", "Tickets waiting for an agent, each minute", registry=registry
        )
        self.agents_online = Gauge(
            "kefu_agents_online", "Agents online, each minute", registry=registry
        )

    async def arm(self) -> None:
        """Each window's timer, unless one is armed already (another replica's, or ours)."""
        now = self.clock()
        boundaries = {f"kpi:{w}": boundary_after(now, w) for w in WINDOWS}
        await self.store.timers.arm(boundaries, keep=True)

    async def run(self) -> None:
        await self.store.give_keys()
        await self.arm()
        await self.store.timers.run(self.fire)

    async def fire(self, due: list[Due]) -> None:
        later: dict[str, datetime | None] = {}
        for one in due:
            window = one.key.removeprefix("kpi:")
            events = [self._snapshot(window, one.due_at, await self._measure(window, one.due_at))]
            state = await self.store.ops_state()
            alerting = window == "1m" and self.clock() - one.due_at < RECENT
            if alerting and state.get("minute", "") < one.due_at.isoformat():
                said, state = await self._alerts(state, one.due_at)
                events += said
            await self._publish(events)
            if alerting:  # after publishing: a crash before decides the same minute again
                await self.store.save_ops_state(state)
            later[one.key] = one.due_at + WINDOWS[window]
        await self.store.timers.arm(later)

    async def _measure(self, window: str, end: datetime) -> dict[str, Any]:
        start = end - WINDOWS[window]
        measure = Measure(Period(start, end), SNAPSHOT_BY)
        async for ticket in self.store.updated_since(start, READ_SHARE):
            measure.add(ticket)
        agents = await self.store.every_agent()
        grouped = {d: measure.kpis(agents, by=d) for d in SNAPSHOT_BY}
        whole = _without_range(grouped[SNAPSHOT_BY[0]])  # each grouping has the whole too
        return {"metrics": whole, "by": {d: measured["by"] for d, measured in grouped.items()}}

    def _snapshot(self, window: str, end: datetime, measured: dict[str, Any]) -> CloudEvent[Any]:
        start = end - WINDOWS[window]
        data = KpiSnapshot(window=window, start=start, end=end, **measured)
        return _event(data, f"kpi:{window}:{start.isoformat()}", end)

    async def _alerts(
        self, state: Document, minute_end: datetime
    ) -> tuple[list[CloudEvent[Any]], Document]:
        """The detectors' events for the minute that just ended, and their state after it."""
        minute_start = minute_end - WINDOWS["1m"]
        opened = await self.store.opened_between(minute_start, minute_end)
        first = await self.store.first_opened_at()
        weeks = [timedelta(weeks=n) for n in range(1, WEEKS_OF_HISTORY + 1)]
        before = [
            await self.store.opened_between(minute_start - week, minute_end - week)
            for week in weeks
            if first is not None and first <= minute_start - week
        ]
        surge, surge_said = surge_step(
            SurgeState.model_validate(state.get("surge") or {}),
            minute_end,
            opened,
            before,
            self.policy.surge,
        )
        online = sum(1 for agent in await self.store.every_agent() if agent.status == "online")
        self.agents_online.set(online)
        self.queue_length.set(await self.store.queue_length())
        staffing, staffing_said = staffing_step(
            StaffingState.model_validate(state.get("staffing") or {}),
            minute_end,
            online,
            self.policy.staffing,
        )
        stamp = minute_end.isoformat()
        said = [
            *(_event(data, f"ops:surge:{stamp}", minute_end) for data in surge_said),
            *(_event(data, f"ops:staffing:{stamp}", minute_end) for data in staffing_said),
        ]
        after = {
            "_id": "ops",
            "minute": stamp,
            "surge": surge.model_dump(mode="json"),
            "staffing": staffing.model_dump(mode="json"),
        }
        return said, after

    async def _publish(self, events: list[CloudEvent[Any]]) -> None:
        outputs: list[Document] = [{"_id": e.id, "raw": e.to_bytes().decode()} for e in events]
        kept = await self.store.keep_outputs(outputs)
        await self.bus.publish(*(decode_event(output["raw"].encode()) for output in kept))


def _event(data: EventData, event_id: str, at: datetime) -> CloudEvent[Any]:
    return new_event(data, id=event_id, source=SOURCE, correlationid=event_id, time=at)


def _without_range(metrics: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in metrics.items() if key not in ("from", "to", "by")}

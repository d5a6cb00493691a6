"""Analytics' handler: every ticket-keyed event folded into its ticket's projection, and
every presence into its agent's, each through a decision unit (an event is applied once by
its id, whatever is redelivered or raced)."""

from typing import Any

from kefu.services.analytics.agents import AgentProjection, fold_agent
from kefu.services.analytics.projection import ClockOf, TicketProjection, fold
from kefu.services.analytics.store import AnalyticsStore
from kefu.shared.bus import Bus
from kefu.shared.consumer import Input, Rejected
from kefu.shared.decisions import DecisionUnit
from kefu.shared.events.agent import AgentCommandRefused, AgentStatusChanged, TransferFellBack
from kefu.shared.events.sla import SlaStarted

# due times the projection does not keep; commands that changed nothing
SKIPPED = (SlaStarted, AgentCommandRefused, TransferFellBack)


class Projections:
    def __init__(self, bus: Bus, store: AnalyticsStore, clock_of: ClockOf) -> None:
        self.tickets: DecisionUnit[Any, TicketProjection] = DecisionUnit(
            store.tickets,
            bus.publish,
            key=lambda event: event.data.ticket_id,
            input_id=lambda event: event.id,
            decide=lambda projection, event, now: (fold(projection, event, clock_of), []),
        )
        self.agents: DecisionUnit[Any, AgentProjection] = DecisionUnit(
            store.agents,
            bus.publish,
            key=lambda event: event.data.agent_id,
            input_id=lambda event: event.id,
            decide=lambda agent, event, now: (fold_agent(agent, event.data), []),
        )

    async def handle(self, inputs: list[Input[Any]]) -> list[Rejected]:
        presence = [one for one in inputs if isinstance(one.value.data, AgentStatusChanged)]
        tickets = [
            one for one in inputs if not isinstance(one.value.data, (AgentStatusChanged, *SKIPPED))
        ]
        return [*await self.tickets.handle(tickets), *await self.agents.handle(presence)]

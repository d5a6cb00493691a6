"""Analytics' handler: every ticket-keyed event folded into its ticket's projection, and
every presence into its agent's, each through a decision unit (an event is applied once by
its id, whatever is redelivered or raced); the decisions are services/analytics/decision.py."""

from typing import Any

from kefu.services.analytics.agents import AgentProjection
from kefu.services.analytics.decision import (
    agent_decision,
    is_presence,
    is_ticket_fact,
    ticket_decision,
)
from kefu.services.analytics.projection import ClockOf, TicketProjection
from kefu.services.analytics.store import AnalyticsStore
from kefu.shared.bus import Bus
from kefu.shared.consumer import Input, Rejected
from kefu.shared.decisions import DecisionUnit


class Projections:
    def __init__(self, bus: Bus, store: AnalyticsStore, clock_of: ClockOf) -> None:
        self.tickets: DecisionUnit[Any, TicketProjection] = DecisionUnit(
            store.tickets,
            bus.publish,
            key=lambda event: event.data.ticket_id,
            input_id=lambda event: event.id,
            decide=ticket_decision(clock_of),
        )
        self.agents: DecisionUnit[Any, AgentProjection] = DecisionUnit(
            store.agents,
            bus.publish,
            key=lambda event: event.data.agent_id,
            input_id=lambda event: event.id,
            decide=agent_decision,
        )

    async def handle(self, inputs: list[Input[Any]]) -> list[Rejected]:
        presence = [one for one in inputs if is_presence(one.value)]
        tickets = [one for one in inputs if is_ticket_fact(one.value)]
        return [*await self.tickets.handle(tickets), *await self.agents.handle(presence)]

"""Analytics' decisions, pure: which events it folds, and each folded into its ticket's
projection (projection.py) or its agent's (agents.py). Analytics publishes nothing per event:
its KPIs come from the projections (kpis.py, windows.py)."""

from collections.abc import Callable
from datetime import datetime
from typing import Any

from kefu.services.analytics.agents import AgentProjection, fold_agent
from kefu.services.analytics.projection import ClockOf, TicketProjection, fold
from kefu.shared.events import CloudEvent
from kefu.shared.events.agent import AgentCommandRefused, AgentStatusChanged, TransferFellBack
from kefu.shared.events.sla import SlaStarted

Event = CloudEvent[Any]
Decided = tuple[Any, list[Event]]
# due times the projection does not keep; commands that changed nothing
SKIPPED = (SlaStarted, AgentCommandRefused, TransferFellBack)


def is_presence(event: Event) -> bool:
    return isinstance(event.data, AgentStatusChanged)


def is_ticket_fact(event: Event) -> bool:
    return not isinstance(event.data, (AgentStatusChanged, *SKIPPED))


def ticket_decision(
    clock_of: ClockOf,
) -> Callable[[TicketProjection | None, Event, datetime], Decided]:
    def decide(projection: TicketProjection | None, event: Event, now: datetime) -> Decided:
        return fold(projection, event, clock_of), []

    return decide


def agent_decision(agent: AgentProjection | None, event: Event, now: datetime) -> Decided:
    return fold_agent(agent, event.data), []

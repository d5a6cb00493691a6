"""The router's view of an agent, and what presence and assignments do to it, pure.

`offline` gives back every ticket the agent holds; `away` keeps them and takes no new ones.
Capacity appears when an agent comes online (or back from away), when its capacity, skills or
tier grow, and when it gives a ticket up: then the queue is served.
"""

from dataclasses import dataclass
from datetime import datetime

from kefu.services.router.choice import Agent
from kefu.shared.events.agent import AgentStatusChanged


@dataclass(frozen=True)
class Presence:
    agent: Agent
    given_back: tuple[str, ...] = ()
    capacity_appeared: bool = False


def presence(agent: Agent | None, data: AgentStatusChanged) -> Presence:
    before = agent or Agent(agent_id=data.agent_id)
    after = before.model_copy(
        update={
            "status": data.status,
            "skills": data.skills,
            "capacity": data.capacity,
            "tier": data.tier,
            "tickets": [] if data.status == "offline" else before.tickets,
        }
    )
    grew = (
        (after.status == "online" and before.status != "online")
        or after.capacity > before.capacity
        or not set(after.skills) <= set(before.skills)
        or after.tier > before.tier
    )
    given_back = tuple(before.tickets) if data.status == "offline" else ()
    return Presence(after, given_back, capacity_appeared=grew and after.status == "online")


def take(agent: Agent, ticket_id: str, now: datetime, today: str) -> Agent:
    taken = agent.taken_today if agent.day == today else 0
    return agent.model_copy(
        update={
            "tickets": [*agent.tickets, ticket_id],
            "day": today,
            "taken_today": taken + 1,
            "last_assigned_at": now,
        }
    )


def release(agent: Agent, ticket_id: str) -> Agent:
    return agent.model_copy(update={"tickets": [t for t in agent.tickets if t != ticket_id]})


def withdraw(agent: Agent, ticket_id: str) -> Agent:
    """A slot taken for an assignment never finished: given back with the day's count."""
    taken = agent.taken_today - 1 if ticket_id in agent.tickets else agent.taken_today
    return release(agent, ticket_id).model_copy(update={"taken_today": max(0, taken)})

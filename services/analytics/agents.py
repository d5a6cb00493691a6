"""Pure fold: an agent's projection after one more presence event (`kefu.agent.status_changed`).

It keeps the agent's current presence, skills, capacity and tier, and a bounded history of
presence changes (enough to tell how long the agent was online in any recent period).
Load and handled counts come from the tickets' projections (their `assignee`)."""

from datetime import datetime, timedelta
from itertools import pairwise

from pydantic import BaseModel, ConfigDict

from kefu.shared.events.agent import AgentStatusChanged
from kefu.shared.events.base import SupportTier

HISTORY_KEPT = 200


class PresenceChange(BaseModel):
    model_config = ConfigDict(frozen=True)

    status: str  # online, away, offline
    at: datetime


class AgentProjection(BaseModel):
    model_config = ConfigDict(frozen=True)

    agent_id: str
    status: str = "offline"
    skills: list[str] = []
    capacity: int = 0
    tier: SupportTier = 1
    since: datetime | None = None
    history: list[PresenceChange] = []

    def online_between(self, start: datetime, end: datetime) -> timedelta:
        """How long the agent was online within [start, end), from the kept history."""
        total = timedelta(0)
        changes = [*self.history, PresenceChange(status="end", at=end)]
        for current, following in pairwise(changes):
            if current.status == "online":
                overlap = min(following.at, end) - max(current.at, start)
                total += max(overlap, timedelta(0))
        return total


def fold_agent(agent: AgentProjection | None, data: AgentStatusChanged) -> AgentProjection:
    current = agent or AgentProjection(agent_id=data.agent_id)
    if current.since is not None and data.at < current.since:
        return current  # an older presence than the one kept (replayed out of order)
    history = [*current.history, PresenceChange(status=data.status, at=data.at)][-HISTORY_KEPT:]
    return current.model_copy(
        update={
            "status": data.status,
            "skills": data.skills,
            "capacity": data.capacity,
            "tier": data.tier,
            "since": data.at,
            "history": history,
        }
    )

"""Which agent takes a ticket, pure (contract 4 and 4.2, policy `routing`).

An agent fits a ticket when it is `online`, its skills cover the ticket's, its tier is at
least the ticket's, it holds fewer tickets than its capacity (stretched by
`surge_capacity_factor` during a surge), it has taken fewer than `daily_limit` tickets today,
and it is not an agent the ticket must leave (a transfer or an escalation). With
`relax_after` set, a ticket waits for an agent of its own tier while one with its skills is
online (`tier_wait`); once it has waited that long, or at once when no such agent is online,
any higher tier will do (`relaxed`).

Among the fitting agents, `least_loaded` takes the lowest share of capacity in use, then
the longest idle, then the agent id; `round_robin` takes the longest since its last
assignment. A ticket transferred to a named agent is held for that agent (`transfer`) until
the router lets it go (`transfer_fallback`, tickets.py). A ticket with a first owner goes to
that agent when it fits (`sticky`), else to the normal choice (`sticky_fallback`). An agent
already holding the ticket (its assignment was written to her and not to the ticket) keeps it
when she fits. When nobody fits, the reason says why.

The queue is served in order: customer tier (svip, vip, standard), priority, the earliest
SLA due time, then age; a round that serves it reads only the lanes (tier and skills) that an
agent with room could take, so a backlog nobody can take is not read again at every freed
slot.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from itertools import combinations
from math import floor

from pydantic import BaseModel, ConfigDict

from kefu.shared.events.base import CustomerTier, Priority

TIER_RANK: dict[str, int] = {"svip": 0, "vip": 1, "standard": 2}
NEVER = "9999-12-31T23:59:59.999Z"
MOST_LANES = 256


class Agent(BaseModel):
    """The router's state of one agent."""

    model_config = ConfigDict(frozen=True)

    agent_id: str
    status: str = "offline"
    skills: list[str] = []
    capacity: int = 0
    tier: int = 1
    tickets: list[str] = []
    day: str = ""  # the day `taken_today` counts, in the routing time zone
    taken_today: int = 0
    last_assigned_at: datetime | None = None


@dataclass(frozen=True)
class Need:
    """What a ticket asks of an agent."""

    ticket_id: str
    skills: tuple[str, ...]
    tier: int
    preferred: str | None = None  # the first owner (sticky)
    sticky: bool = False  # `preferred` is the first owner
    held_for: str | None = None  # a transfer's target: nobody else may take it yet
    label: str | None = None  # what any assignment of this need is called
    avoid: str | None = None  # the agent a transfer or an escalation leaves
    relaxed: bool = False  # waited past relax_after: higher tiers welcome
    holder: str | None = None  # an agent whose document already holds it (a crash between writes)


@dataclass(frozen=True)
class Limits:
    strategy: str = "least_loaded"
    daily_limit: int | None = None
    capacity_factor: float = 1.0  # > 1 during a surge
    tier_exact_first: bool = False  # relax_after is set
    today: str = ""


@dataclass(frozen=True)
class Assign:
    agent_id: str
    strategy: str


@dataclass(frozen=True)
class Queue:
    reason: str  # no_agent_online, no_skill, tier_wait, at_capacity, daily_limit, transfer


def room(agent: Agent, limits: Limits) -> int:
    """Slots left, with a surge's stretch."""
    return floor(agent.capacity * limits.capacity_factor) - len(agent.tickets)


def lane(skills: Iterable[str], tier: int) -> str:
    """A waiting ticket's lane: its tier and skills, one indexed value, so that serving the
    queue reads only the lanes an agent with room could take."""
    return f"{tier}:{'+'.join(sorted(set(skills)))}"


def lanes_with_room(agents: Iterable[Agent], limits: Limits) -> list[str] | None:
    """Every lane an online agent with room could serve: her tier and below, any subset of
    her skills (a superset of what `choose` will take: held and avoided tickets, and the
    exact tier first, are its to decide). None when there are more than MOST_LANES: the
    queue is then read whole."""
    lanes: set[str] = set()
    for agent in agents:
        if agent.status != "online" or room(agent, limits) <= 0:
            continue
        skills = sorted(set(agent.skills))
        if 2 ** len(skills) * agent.tier > MOST_LANES:
            return None
        for size in range(len(skills) + 1):
            for chosen in combinations(skills, size):
                lanes.update(lane(chosen, tier) for tier in range(1, agent.tier + 1))
        if len(lanes) > MOST_LANES:
            return None
    return sorted(lanes)


def taken_today(agent: Agent, limits: Limits) -> int:
    return agent.taken_today if agent.day == limits.today else 0


def _can_serve(agent: Agent, need: Need, limits: Limits, exact_tier: bool) -> bool:
    if agent.status != "online" or agent.agent_id == need.avoid:
        return False
    if not set(need.skills) <= set(agent.skills) or agent.tier < need.tier:
        return False
    return not (exact_tier and agent.tier != need.tier)


def _own_tier_online(agents: list[Agent], need: Need) -> bool:
    return any(
        agent.status == "online"
        and agent.tier == need.tier
        and set(need.skills) <= set(agent.skills)
        for agent in agents
    )


def _fitting(agents: list[Agent], need: Need, limits: Limits, exact_tier: bool) -> list[Agent]:
    return [
        agent
        for agent in agents
        if _can_serve(agent, need, limits, exact_tier)
        and room(agent, limits) > 0
        and (limits.daily_limit is None or taken_today(agent, limits) < limits.daily_limit)
    ]


def choose(agents: list[Agent], need: Need, limits: Limits) -> Assign | Queue:
    exact_tier = limits.tier_exact_first and not need.relaxed and _own_tier_online(agents, need)
    fitting = _fitting(agents, need, limits, exact_tier)
    if need.held_for:
        held = [agent for agent in fitting if agent.agent_id == need.held_for]
        return Assign(need.held_for, "transfer") if held else Queue("transfer")
    if not fitting:
        return Queue(_why_not(agents, need, limits, exact_tier))
    preferred = next((agent for agent in fitting if agent.agent_id == need.preferred), None)
    if preferred:
        return Assign(preferred.agent_id, need.label or "sticky")
    holder = next((agent for agent in fitting if agent.agent_id == need.holder), None)
    best = holder or min(fitting, key=_order(limits.strategy))
    missed = "sticky_fallback" if need.sticky and need.preferred else None
    return Assign(best.agent_id, need.label or missed or _named(best, need, limits))


def _named(agent: Agent, need: Need, limits: Limits) -> str:
    """What the assignment is called: overflow and relaxed say more than the strategy."""
    if len(agent.tickets) >= agent.capacity:
        return "overflow"
    if limits.tier_exact_first and agent.tier > need.tier:
        return "relaxed"
    return limits.strategy


def _why_not(agents: list[Agent], need: Need, limits: Limits, exact_tier: bool) -> str:
    if not any(agent.status == "online" for agent in agents):
        return "no_agent_online"
    if exact_tier and _fitting(agents, need, limits, exact_tier=False):
        return "tier_wait"
    serving = [agent for agent in agents if _can_serve(agent, need, limits, exact_tier=False)]
    if not serving:
        return "no_skill"
    with_room = [agent for agent in serving if room(agent, limits) > 0]
    return "daily_limit" if with_room else "at_capacity"


def _order(strategy: str):
    def idle(agent: Agent) -> float:
        return agent.last_assigned_at.timestamp() if agent.last_assigned_at else float("-inf")

    if strategy == "round_robin":
        return lambda agent: (idle(agent), agent.agent_id)
    return lambda agent: (
        len(agent.tickets) / agent.capacity if agent.capacity else 1.0,
        idle(agent),
        agent.agent_id,
    )


def queue_rank(
    customer_tier: CustomerTier,
    priority: Priority,
    due_at: str | None,
    queued_at: str,
    ticket_id: str = "",
) -> str:
    """A string whose order is the queue's: customer tier, priority, SLA due time, age, and
    the ticket id so that ties have an order. Times are RFC 3339 UTC with milliseconds, so
    they sort as text."""
    return f"{TIER_RANK[customer_tier]}|{priority}|{due_at or NEVER}|{queued_at}|{ticket_id}"

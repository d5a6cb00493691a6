"""Which SLA policy holds a ticket, pure: the first whose `when` matches its facts."""

from collections.abc import Sequence
from dataclasses import dataclass

from kefu.shared.policy import PolicyMatch, SlaPolicy


@dataclass(frozen=True)
class Facts:
    """What a policy's `when` looks at."""

    priority: str
    tier: int
    channel: str
    customer_tier: str
    category: tuple[str, ...]


def matches(when: PolicyMatch, facts: Facts) -> bool:
    """Every key `when` names holds; `category` matches any of the ticket's three levels."""
    return (
        (when.priority is None or facts.priority in when.priority)
        and (when.tier is None or facts.tier in when.tier)
        and (when.channel is None or facts.channel in when.channel)
        and (when.customer_tier is None or facts.customer_tier in when.customer_tier)
        and (when.category is None or bool(set(when.category) & set(facts.category)))
    )


def choose(policies: Sequence[SlaPolicy], facts: Facts) -> SlaPolicy | None:
    return next((policy for policy in policies if matches(policy.when, facts)), None)

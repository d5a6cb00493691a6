"""Which SLA policy holds a ticket: the first whose `when` matches."""

import pytest
import yaml

from kefu.shared.policy import Sla
from kefu.shared.sla_policy import Facts, choose

POLICIES = Sla.model_validate(
    yaml.safe_load(
        """
policies:
  - {name: complaints, when: {category: [complaint]}, targets: {first_response: 1h}}
  - name: svip-chat
    when: {customer_tier: [svip], channel: [chat]}
    targets: {first_response: 30s}
  - {name: p1, when: {priority: [P1]}, targets: {first_response: 15m}}
  - {name: tier3, when: {tier: [3], priority: [P2, P3]}, targets: {resolution: 2d}}
  - {name: rest, targets: {first_response: 24h}}
"""
    )
).policies


def facts(**changes: object) -> Facts:
    base = {
        "priority": "P3",
        "tier": 1,
        "channel": "email",
        "customer_tier": "standard",
        "category": ("general", "inquiry", "other"),
    }
    return Facts(**{**base, **changes})


@pytest.mark.parametrize(
    ("ticket", "policy"),
    [
        (facts(), "rest"),
        (facts(priority="P1"), "p1"),
        (facts(category=("billing", "complaint", "refund")), "complaints"),  # any level
        (facts(category=("complaint", "x", "y"), priority="P1"), "complaints"),  # first wins
        (facts(customer_tier="svip", channel="chat"), "svip-chat"),
        (facts(customer_tier="svip", channel="email"), "rest"),  # every key must hold
        (facts(tier=3, priority="P2"), "tier3"),
        (facts(tier=3, priority="P4"), "rest"),
        (facts(category=("Complaint", "x", "y")), "rest"),  # categories are exact names
    ],
)
def test_first_matching_policy(ticket: Facts, policy: str) -> None:
    assert choose(POLICIES, ticket).name == policy


def test_no_policy_when_nothing_matches() -> None:
    assert choose(POLICIES[:1], facts()) is None

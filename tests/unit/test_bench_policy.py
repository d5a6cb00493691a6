"""The bench's policy: the example's, with only what makes its load the same at any hour."""

from pathlib import Path

from kefu.bench import BACKLOG_RULE, bench_policy
from kefu.shared.policy import load_policy

EXAMPLE = Path(__file__).parents[2] / "deploy" / "policy.yaml"


def test_the_example_policy_without_quiet_hours_nor_daily_limit(tmp_path: Path) -> None:
    example = load_policy(EXAMPLE)
    assert example.notify.quiet_hours is not None  # mails wait 14:00-24:00 UTC there
    policy = load_policy(bench_policy(tmp_path, EXAMPLE))
    assert policy.notify.quiet_hours is None  # every run mails, whatever the hour
    assert policy.routing.daily_limit is None
    assert policy.classification.rules[0].model_dump(exclude_defaults=True) == BACKLOG_RULE
    assert policy.sla.policies[1:] == example.sla.policies

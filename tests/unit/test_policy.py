from datetime import timedelta
from pathlib import Path

import pytest

from kefu.shared.durations import parse_duration
from kefu.shared.policy import (
    PolicyError,
    escalation_offset,
    load_policy,
    opening_span,
    weekday_range,
)

EXAMPLE = Path(__file__).parents[2] / "deploy" / "policy.yaml"


def test_the_shipped_example_policy_loads() -> None:
    policy = load_policy(EXAMPLE)
    assert policy.classification.rules[0].set.priority == "P1"
    assert policy.sla.policies[0].targets.first_response == timedelta(minutes=15)
    assert policy.sla.policies[0].escalation[1].offset == timedelta(minutes=30)
    assert policy.notify.quiet_hours.except_priority == ["P1"]


def test_no_file_means_built_in_defaults() -> None:
    policy = load_policy(None)
    assert policy.classification.default.priority == "P3"
    assert policy.routing.strategy == "least_loaded"
    assert policy.survey.expires == timedelta(days=7)


@pytest.mark.parametrize(
    ("yaml_text", "complaint"),
    [
        ("routing: {strategy: fastest}", "routing.strategy"),
        ("sla: {policies: [{name: a, calendar: office, targets: {}}]}", "names calendar 'office'"),
        ("sla: {policies: [{name: a, targets: {resolution: 4 hours}}]}", "sla.policies.0.targets"),
        ("classification: {rules: [{keywords: [x], sett: {}}]}", "classification.rules.0"),
        ("sla: {calendars: {c: {timezone: Mars/Olympus, hours: {}}}}", "unknown timezone"),
        (
            "sla: {calendars: {c: {timezone: UTC, hours: {mon-fri: '18:00-09:00'}}}}",
            "closes before",
        ),
        ("routing: [", "cannot read"),
        ("sla: {calendars: {c: {timezone: UTC, hours: {}}}}", "opening hours"),
        (
            "sla: {calendars: {c: {timezone: UTC, hours: {mon: '09:00-10:00'}, "
            "holidays: ['2026-10-10'], workdays: ['2026-10-10']}}}",
            "both a holiday and a workday",
        ),
        (
            "sla: {calendars: {c: {timezone: UTC, hours: {mon: '09:00-10:00'}, "
            "holidays: [{country: XX, years: 2026}]}}}",
            "holidays",
        ),
        (
            "sla: {calendars: {c: {timezone: UTC, hours: {mon: '09:00-10:00'}, workdays: [soon]}}}",
            "workdays",
        ),
        ("sla: {policies: [{name: a, warn_at: 1.5, targets: {}}]}", "warn_at"),
    ],
)
def test_a_bad_file_names_the_path_and_the_key(tmp_path, yaml_text: str, complaint: str) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(yaml_text)
    with pytest.raises(PolicyError) as error:
        load_policy(path)
    assert str(path) in str(error.value)
    assert complaint in str(error.value)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("500ms", 0.5), ("30s", 30), ("15m", 900), ("4h", 14400), ("2d", 172800), ("1.5h", 5400)],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


def test_day_ranges_spans_and_escalation_offsets() -> None:
    assert weekday_range("mon-fri") == [0, 1, 2, 3, 4]
    assert weekday_range("sat") == [5]
    assert weekday_range("fri-mon") == [4, 5, 6, 0]
    assert [t.hour for t in opening_span("09:00-18:00")] == [9, 18]
    assert escalation_offset("breach") == timedelta(0)
    assert escalation_offset("breach+30m") == timedelta(minutes=30)
    with pytest.raises(ValueError):
        escalation_offset("after+5m")

"""Classification tables: first rule wins, whole words for Latin, substrings for CJK."""

import pytest

from kefu.services.intake.classify import classify
from kefu.shared.policy import Classification

POLICY = Classification.model_validate(
    {
        "default": {"priority": "P3", "category": ["general", "inquiry", "other"]},
        "rules": [
            {
                "keywords": ["outage", "down", "系统瘫痪", "无法登录", "can't log in"],
                "set": {
                    "priority": "P1",
                    "category": ["technical", "availability", "outage"],
                    "skills": ["tech"],
                    "tier": 2,
                },
            },
            {
                "keywords": ["refund", "退款"],
                "set": {"priority": "P3", "category": ["billing", "payment", "refund"]},
            },
            {
                "channels": ["voice"],
                "set": {"priority": "P2", "category": ["voice", "call", "other"]},
            },
        ],
        "raise_priority": {"vip": 1, "svip": 2},
    }
)


@pytest.mark.parametrize(
    ("subject", "text", "rule"),
    [
        ("Site is DOWN", "", 0),
        (None, "Your service is down!", 0),
        (None, "down.", 0),
        (None, "服务器down了", 0),
        (None, "ＤＯＷＮ again", 0),
        (None, "I cannot download the invoice", None),
        (None, "countdown started", None),
        (None, "I can't   log in since today", 0),
        (None, "我们的系统瘫痪了，请尽快处理", 0),
        ("无法登录", "", 0),
        (None, "账号无法登录APP", 0),
        (None, "申请退款", 1),
        ("Refund please", "", 1),
        (None, "refunds", None),
        (None, "我的订单还没到", None),
        (None, "", None),
    ],
)
def test_keywords(subject, text, rule) -> None:
    assert classify(POLICY, channel="email", subject=subject, text=text).rule == rule


def test_first_matching_rule_wins() -> None:
    result = classify(POLICY, channel="email", subject="refund", text="site is down")
    assert (result.rule, result.priority, result.skills, result.tier) == (0, "P1", ["tech"], 2)


def test_unset_fields_come_from_the_default() -> None:
    result = classify(POLICY, channel="chat", subject=None, text="退款")
    assert result.category == ["billing", "payment", "refund"]
    assert (result.skills, result.tier) == (["general"], 1)


def test_a_rule_without_keywords_matches_its_channels_only() -> None:
    assert classify(POLICY, channel="voice", subject=None, text="hello").priority == "P2"
    assert classify(POLICY, channel="sms", subject=None, text="hello").priority == "P3"


@pytest.mark.parametrize(
    ("tier", "text", "priority"),
    [
        ("standard", "hello", "P3"),
        ("vip", "hello", "P2"),
        ("svip", "hello", "P1"),
        ("svip", "我的订单", "P1"),
        ("vip", "system down", "P1"),
    ],
)
def test_customer_tier_raises_priority(tier, text, priority) -> None:
    result = classify(POLICY, channel="chat", subject=None, text=text, customer_tier=tier)
    assert result.priority == priority


def test_no_rules_gives_the_default() -> None:
    result = classify(Classification(), channel="sms", subject=None, text="anything")
    assert (result.priority, result.category, result.rule) == (
        "P3",
        ["general", "inquiry", "other"],
        None,
    )

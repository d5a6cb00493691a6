"""What `kefu simulate` sends (kefu/traffic.py): valid contract 2.1 messages, drawn the same
for the same seed, in the mix and shares asked for, threaded as their channels thread, and
hitting the example policy's classification rules in both languages."""

import statistics
from collections import Counter
from pathlib import Path

import pytest

from kefu.services.intake.classify import classify
from kefu.shared.inbound import ChannelMessage
from kefu.shared.policy import load_policy
from kefu.traffic import CHANNELS, TIERS, Shape, Traffic

EXAMPLE_POLICY = Path(__file__).parents[2] / "deploy" / "policy.yaml"
COUNT = 4000


def drawn(shape: Shape, seed: int = 1, count: int = COUNT) -> list[dict]:
    traffic = Traffic(shape, seed, "run1")
    return [traffic.message() for _ in range(count)]


def test_the_same_seed_draws_the_same_run_and_another_seed_another() -> None:
    shape = Shape(rate=50)
    assert drawn(shape, 7, 200) == drawn(shape, 7, 200)
    assert drawn(shape, 7, 200) != drawn(shape, 8, 200)


def test_every_message_is_a_valid_channel_message() -> None:
    for message in drawn(Shape(rate=50)):
        ChannelMessage.model_validate(message)


def test_channels_tiers_and_languages_follow_the_shape() -> None:
    messages = drawn(Shape(rate=50, follow_up=0, chinese=0.3))
    channels = Counter(m["channel"] for m in messages)
    for channel, weight in CHANNELS.items():
        assert channels[channel] / COUNT == pytest.approx(weight / 100, abs=0.03)
    tiers = Counter(m["customer_tier"] for m in messages)
    assert tiers["standard"] / COUNT == pytest.approx(TIERS["standard"] / 100, abs=0.03)
    assert tiers["svip"] > 0
    chinese = sum(m["locale"] == "zh-CN" for m in messages) / COUNT
    assert chinese == pytest.approx(0.3, abs=0.03)


def test_follow_ups_come_from_known_customers_and_thread_as_their_channel_does() -> None:
    messages = drawn(Shape(rate=50, follow_up=0.2))
    seen: dict[str, dict] = {}
    follow_ups = 0
    for message in messages:
        before = seen.get(message["from"]["address"])
        if before is not None:
            follow_ups += 1
            assert message["channel"] == before["channel"]
            if message["channel"] == "email":
                assert message["thread"]["in_reply_to"] == before["message_id"]
            if message["channel"] == "chat":
                assert message["thread"] == before["thread"]
        seen[message["from"]["address"]] = message
    assert follow_ups / COUNT == pytest.approx(0.2, abs=0.03)
    assert len({m["message_id"] for m in messages}) == COUNT


def test_texts_hit_every_rule_of_the_example_policy_in_both_languages() -> None:
    rules = load_policy(EXAMPLE_POLICY).classification
    hits = Counter()
    for message in drawn(Shape(rate=50, follow_up=0), count=1000):
        chosen = classify(
            rules,
            channel=message["channel"],
            subject=message.get("subject"),
            text=message["text"],
            customer_tier=message["customer_tier"],
        )
        hits[(message["locale"], chosen.category[0])] += 1
    for locale in ("en", "zh-CN"):
        for category in ("technical", "billing", "complaint", "general"):
            assert hits[(locale, category)] > 20, (locale, category, hits)


def test_gaps_are_exponential_at_the_rate() -> None:
    traffic = Traffic(Shape(rate=200), 3, "run1")
    gaps = [traffic.gap_s() for _ in range(20000)]
    assert statistics.fmean(gaps) == pytest.approx(1 / 200, rel=0.05)
    assert statistics.stdev(gaps) == pytest.approx(1 / 200, rel=0.05)  # as exponential's


def test_agent_delays_and_survey_answers_follow_the_shape() -> None:
    traffic = Traffic(Shape(rate=1, reply_s=2, solve_s=5, survey_answered=0.4), 5, "run1")
    assert statistics.fmean(traffic.reply_after_s() for _ in range(10000)) == pytest.approx(
        2, rel=0.05
    )
    assert statistics.fmean(traffic.solve_after_s() for _ in range(10000)) == pytest.approx(
        5, rel=0.05
    )
    scores = [traffic.survey_score() for _ in range(10000)]
    answered = [score for score in scores if score is not None]
    assert len(answered) / 10000 == pytest.approx(0.4, abs=0.02)
    assert set(answered) == {1, 2, 3, 4, 5}

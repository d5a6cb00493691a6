"""Pure classification: which priority, category, skills and tier a new ticket gets.

The first policy rule whose channels and keywords match wins; a rule without keywords matches
everything. Keywords match the subject or the text in any case and any width (NFKC, so
full-width `ＤＯＷＮ` is `down`). A keyword with CJK characters matches as a substring, since
those scripts do not separate words; any other keyword matches whole words only, so "down"
does not match "download" but does match "服务器down了".
"""

import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from typing import Any

from kefu.shared.events.base import Channel, CustomerTier, Priority
from kefu.shared.policy import Classification, ClassificationRule

CJK = "\u2e80-\u2fdf\u3040-\u30ff\u3100-\u312f\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_HAS_CJK = re.compile(f"[{CJK}]")
_WORD_NOT_CJK = rf"[^\W{CJK}]"
PRIORITIES: list[Priority] = ["P1", "P2", "P3", "P4"]


@dataclass(frozen=True)
class Classified:
    priority: Priority
    category: list[str]
    skills: list[str]
    tier: int
    rule: int | None  # index of the rule that matched, None for the default


def fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


@cache
def keyword_pattern(keyword: str) -> re.Pattern[str]:
    words = fold(keyword).split()
    body = r"\s+".join(map(re.escape, words))
    if _HAS_CJK.search(body):
        return re.compile(body)
    return re.compile(rf"(?<!{_WORD_NOT_CJK}){body}(?!{_WORD_NOT_CJK})")


def matches(rule: ClassificationRule, channel: Channel, texts: tuple[str, ...]) -> bool:
    if rule.channels is not None and channel not in rule.channels:
        return False
    keywords = [keyword for keyword in rule.keywords if keyword.strip()]
    return not keywords or any(
        keyword_pattern(keyword).search(text) for keyword in keywords for text in texts
    )


def raised(priority: Priority, levels: int) -> Priority:
    return PRIORITIES[max(0, PRIORITIES.index(priority) - levels)]


def classify(
    policy: Classification,
    *,
    channel: Channel,
    subject: str | None,
    text: str,
    customer_tier: CustomerTier = "standard",
) -> Classified:
    texts = (fold(subject or ""), fold(text))
    index = next((i for i, rule in enumerate(policy.rules) if matches(rule, channel, texts)), None)
    chosen = policy.rules[index].set if index is not None else None

    def pick(field: str) -> Any:
        value = getattr(chosen, field) if chosen else None
        return getattr(policy.default, field) if value is None else value

    return Classified(
        priority=raised(pick("priority"), policy.raise_priority.get(customer_tier, 0)),
        category=pick("category"),
        skills=pick("skills"),
        tier=pick("tier"),
        rule=index,
    )

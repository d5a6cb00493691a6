"""What `kefu simulate` sends, drawn from a seeded random source. Pure: the same seed gives the
same customers, messages, gaps and agent delays.

Customers arrive as a Poisson process (exponential gaps at `rate` a second) on a channel mix
like a support team's (email first, then chat, SMS, web forms, social and voice), in Chinese
and English, with texts that hit the example policy's classification rules (outage, refund,
complaint) or none of them, and tiers standard, vip and svip. A share of the messages are
follow-ups from a customer already seen, threaded the way their channel threads (email by
In-Reply-To, chat by conversation id, the others by sender). Agents answer after a drawn
delay, solve after another, and a share of customers answer the survey.
"""

import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

CHANNELS = {"email": 40, "chat": 25, "sms": 12, "webform": 10, "social": 8, "voice": 5}
TIERS = {"standard": 85, "vip": 12, "svip": 3}
SKILLS = ("general", "tech", "billing")
TEXTS: dict[str, Sequence[tuple[str, str]]] = {  # locale → (subject, text)
    "en": (
        ("Site down", "Your checkout page is down since this morning, we cannot sell."),
        ("Outage?", "Is there an outage? The app shows an error on every login."),
        ("Refund", "I returned the shoes last week, when do I get my refund?"),
        ("Invoice", "Please send the invoice for order 4471 with our VAT number."),
        ("Complaint", "This is unacceptable: the courier left the parcel in the rain."),
        ("Question", "Can I change the delivery address of an order already shipped?"),
        ("Hello", "How do I add a second user to our account?"),
    ),
    "zh-CN": (
        ("系统瘫痪", "你们的系统瘫痪了，我们的门店从早上开始无法收款。"),
        ("无法登录", "我今天一直无法登录后台，提示密码错误。"),
        ("退款", "上周退回的商品什么时候退款？"),
        ("发票", "请给订单 4471 开具增值税发票。"),
        ("投诉", "我要投诉快递员，包裹被放在门外淋湿了。"),
        ("咨询", "已经发货的订单还能修改收货地址吗？"),
        ("你好", "请问怎么给账号添加第二个用户？"),
    ),
}
REPLIES = {"en": "Thanks for writing, we are on it.", "zh-CN": "感谢来信，我们正在处理。"}


@dataclass(frozen=True)
class Shape:
    """How the traffic is drawn."""

    rate: float  # new messages a second
    follow_up: float = 0.15  # share of messages from a customer already seen
    chinese: float = 0.5
    reply_s: float = 2.0  # mean agent delay before the first reply
    solve_s: float = 3.0  # mean delay from the reply to solving
    survey_answered: float = 0.3
    channels: dict[str, int] = field(default_factory=lambda: dict(CHANNELS))


@dataclass
class Customer:
    number: int
    channel: str
    address: str
    tier: str
    locale: str
    last_message_id: str | None = None


class Traffic:
    """Messages and delays drawn from `seed`; `run` names the run so that message ids and
    customers of two runs never collide."""

    def __init__(self, shape: Shape, seed: int, run: str) -> None:
        self.shape = shape
        self.random = random.Random(seed)
        self.run = run
        self.customers: list[Customer] = []
        self.sent = 0

    def gap_s(self) -> float:
        """Seconds until the next message: exponential, so arrivals are Poisson."""
        return self.random.expovariate(self.shape.rate)

    def message(self) -> dict[str, Any]:
        """The next customer message, as channel.inbound takes it (contract 2.1)."""
        self.sent += 1
        again = self.customers and self.random.random() < self.shape.follow_up
        customer = self.random.choice(self.customers) if again else self._customer()
        subject, text = self.random.choice(TEXTS[customer.locale])
        message_id = f"sim-{self.run}-{self.sent}"
        message: dict[str, Any] = {
            "channel": customer.channel,
            "message_id": message_id,
            "from": {"address": customer.address, "name": f"Customer {customer.number}"},
            "text": text,
            "customer_tier": customer.tier,
            "locale": customer.locale,
            "meta": {"simulated": self.run},
        }
        if customer.channel in ("email", "webform"):
            message["subject"] = f"Re: {subject}" if again else subject
        if customer.channel == "chat":
            message["thread"] = {"conversation_id": f"sim-{self.run}-{customer.number}"}
        elif customer.channel == "email" and customer.last_message_id:
            message["thread"] = {"in_reply_to": customer.last_message_id}
        customer.last_message_id = message_id
        return message

    def _customer(self) -> Customer:
        number = len(self.customers) + 1
        channel = _weighted(self.random, self.shape.channels)
        customer = Customer(
            number=number,
            channel=channel,
            address=_address(channel, self.run, number),
            tier=_weighted(self.random, TIERS),
            locale="zh-CN" if self.random.random() < self.shape.chinese else "en",
        )
        self.customers.append(customer)
        return customer

    def reply_after_s(self) -> float:
        return self.random.expovariate(1 / self.shape.reply_s)

    def solve_after_s(self) -> float:
        return self.random.expovariate(1 / self.shape.solve_s)

    def survey_score(self) -> int | None:
        """A customer's CSAT answer (1-5, mostly content), or None for no answer."""
        if self.random.random() >= self.shape.survey_answered:
            return None
        return self.random.choices((5, 4, 3, 2, 1), weights=(50, 25, 10, 8, 7))[0]


def reply_text(locale: str) -> str:
    return REPLIES.get(locale, REPLIES["en"])


def _weighted(source: random.Random, weights: dict[str, int]) -> str:
    return source.choices(list(weights), weights=list(weights.values()))[0]


def _address(channel: str, run: str, number: int) -> str:
    if channel in ("email", "webform"):
        return f"customer{number}.{run}@sim.example"
    if channel in ("sms", "voice"):
        digest = hashlib.sha256(f"{run}:{number}".encode()).digest()
        return f"+8613{int.from_bytes(digest[:8]) % 10**9:09d}"
    return f"sim_{run}_{number}"

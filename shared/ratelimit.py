"""Requests a second per caller, as token buckets (contract 11: intake's door).

Each key's bucket holds `burst` requests and refills at `rate` a second; a request that finds
it empty is refused with how long until one more is allowed. Buckets live in one process:
with N replicas behind a load balancer a caller gets up to N times the rate. Our own ~30
lines rather than a library: the contract's burst and Retry-After are exactly this."""

import math
from dataclasses import dataclass, field

MAX_KEYS = 10_000  # full buckets are forgotten beyond this: an idle key costs nothing


@dataclass
class Bucket:
    tokens: float
    at: float


@dataclass
class RateLimit:
    rate: float
    burst: float
    buckets: dict[str, Bucket] = field(default_factory=dict)

    def take(self, key: str, now: float) -> float:
        """0 when `key` may go on now; else the seconds until it may."""
        bucket = self.buckets.get(key) or self._new(key, now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.at) * self.rate)
        bucket.at = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / self.rate

    def _new(self, key: str, now: float) -> Bucket:
        if len(self.buckets) >= MAX_KEYS:
            self._forget_full(now)
        bucket = self.buckets[key] = Bucket(self.burst, now)
        return bucket

    def _forget_full(self, now: float) -> None:
        refill = self.burst / self.rate
        self.buckets = {k: b for k, b in self.buckets.items() if now - b.at < refill}
        if len(self.buckets) >= MAX_KEYS:  # that many busy callers: start them all afresh
            self.buckets.clear()


def retry_after(wait_s: float) -> str:
    """A Retry-After header's whole seconds, never 0."""
    return str(max(1, math.ceil(wait_s)))

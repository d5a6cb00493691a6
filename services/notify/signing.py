"""Signatures, pure: webhook deliveries and unsubscribe links.

Webhooks carry `Kefu-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`
(the scheme Stripe uses): a receiver recomputes it over the raw body, compares in constant
time, and rejects a timestamp older than its tolerance (a replayed delivery). Unsubscribe
links carry an HMAC of the channel and address, so only kefu can make one.
"""

import base64
import hashlib
import hmac

TOLERANCE_S = 300


def webhook_signature(secret: str, body: bytes, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify_webhook(
    secret: str, body: bytes, header: str, now: int, tolerance_s: int = TOLERANCE_S
) -> bool:
    """What a receiver does: the signature matches and the delivery is recent."""
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    expected = webhook_signature(secret, body, timestamp).split("v1=", 1)[1]
    fresh = abs(now - timestamp) <= tolerance_s
    return fresh and hmac.compare_digest(expected, parts.get("v1", ""))


def unsubscribe_token(secret: str, channel: str, address: str) -> str:
    subject = f"{channel}:{address.lower()}"
    mac = hmac.new(secret.encode(), subject.encode(), hashlib.sha256).digest()[:16]
    payload = base64.urlsafe_b64encode(subject.encode()).decode().rstrip("=")
    return f"{payload}.{base64.urlsafe_b64encode(mac).decode().rstrip('=')}"


def unsubscribed(secret: str, token: str) -> tuple[str, str] | None:
    """The (channel, address) a token was made for, or None if kefu did not make it."""
    payload, _, _ = token.partition(".")
    try:
        subject = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    channel, _, address = subject.partition(":")
    if not address or not hmac.compare_digest(unsubscribe_token(secret, channel, address), token):
        return None
    return channel, address

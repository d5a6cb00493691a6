"""The customer's link to their ticket (contract 8): `<KEFU_WORKSPACE_URL>/t/<token>`, the
token naming the ticket, signed with KEFU_AUTH_SECRET (HMAC-SHA256, itsdangerous). Notify puts
it in the customer's mails; the workspace's `GET /t/{token}` reads it back. A token is the same
every time it is made for a ticket, so a replayed mail carries the same link; it does not
expire, like the ticket's mail thread. Without KEFU_AUTH_SECRET there is no link."""

import hashlib

from itsdangerous import BadData, URLSafeSerializer

from kefu.shared.settings import Settings

SALT = "kefu.customer-view"
PATH = "/t/"


def customer_link(settings: Settings, ticket_id: str) -> str | None:
    serializer = _serializer(settings)
    if serializer is None:
        return None
    return f"{settings.workspace_url}{PATH}{serializer.dumps(ticket_id)}"


def ticket_of_link_token(settings: Settings, token: str) -> str | None:
    """The ticket a token names; None if this deployment did not sign it."""
    serializer = _serializer(settings)
    try:
        ticket_id = serializer.loads(token) if serializer else None
    except BadData:
        return None
    return ticket_id if isinstance(ticket_id, str) and ticket_id else None


def _serializer(settings: Settings) -> URLSafeSerializer | None:
    if settings.auth_secret is None:
        return None
    return URLSafeSerializer(
        settings.signing_secret("auth_secret"),
        salt=SALT,
        signer_kwargs={"digest_method": hashlib.sha256},
    )

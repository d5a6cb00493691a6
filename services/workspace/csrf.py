"""The desk's defence against cross-site requests, pure.

A form that changes something carries a token bound to the sign-in: an HMAC-SHA256 of the
session id under KEFU_AUTH_SECRET, so it changes with every sign-in, needs no storage, and is
refused after sign-out with its session. A POST must also come from the desk's own origin:
its `Origin` (browsers send one with every form POST), or its `Referer` when there is no
Origin; neither is refused. The session cookie is SameSite=Lax besides, and only the pages'
own routes take it on a POST (identity.py: the JSON API never does).

The desk's pages say `Referrer-Policy: same-origin`, not `no-referrer`: under `no-referrer`
Chromium sends `Origin: null` with a same-origin form POST, which this check must refuse.
Nothing is sent to other sites either way.
"""

import base64
import hashlib
import hmac
from urllib.parse import urlsplit

PURPOSE = b"kefu.desk-form:"


def csrf_token(secret: str, session_id: str) -> str:
    digest = hmac.new(secret.encode(), PURPOSE + session_id.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def csrf_matches(secret: str, session_id: str, given: str | None) -> bool:
    expected = csrf_token(secret, session_id)
    return bool(given) and hmac.compare_digest(expected.encode(), (given or "").encode())


def origin_of(url: str | None) -> str | None:
    """`scheme://host[:port]` of a URL, lower-cased; None for `null` or anything else."""
    try:
        parts = urlsplit((url or "").strip())
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def same_origin(origin: str | None, referer: str | None, ours: set[str]) -> bool:
    """Whether a POST comes from one of `ours` (origins as `origin_of` writes them)."""
    said = origin_of(origin) if origin is not None else origin_of(referer)
    return said is not None and said in ours


def local_path(path: str) -> str:
    """Where a form may send the browser next: a desk page of this site, else the desk."""
    desk = path.startswith("/desk/") and "//" not in path and "\\" not in path
    return path if desk else "/"

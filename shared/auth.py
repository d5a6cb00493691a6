"""The one bearer-token check of every HTTP API: `Depends(role_at_least("admin"))`.

Tokens come from KEFU_API_TOKENS (`token:role`); a missing or unknown token is 401, a role
below the one required is 403. Tokens are compared in constant time.
"""

import hmac
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from kefu.shared.settings import ROLE_RANK, Role, Settings

bearer = HTTPBearer(auto_error=False, description="KEFU_API_TOKENS token")


def role_at_least(settings: Settings, needed: Role) -> Callable[..., Role]:
    tokens = settings.tokens()

    def check(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Role:
        role = _role_of(tokens, credentials.credentials) if credentials else None
        if role is None:
            raise HTTPException(
                401, "a valid bearer token is required", {"WWW-Authenticate": "Bearer"}
            )
        if ROLE_RANK[role] < ROLE_RANK[needed]:
            raise HTTPException(403, f"role {needed} or above is required")
        return role

    return check


def _role_of(tokens: dict[str, Role], given: str) -> Role | None:
    found = None
    for token, role in tokens.items():
        if hmac.compare_digest(token.encode(), given.encode()):
            found = role
    return found

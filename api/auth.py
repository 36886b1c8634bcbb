"""Bearer-token authentication and role checks, as FastAPI dependencies."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.errors import ApiError
from api.tokens import Principal

_bearer = HTTPBearer(auto_error=False)


def current_user(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The principal of the request's bearer token; 401 when missing, unknown, expired or
    revoked (the answer does not say which)."""
    if credentials is None:
        raise ApiError(401, "unauthenticated", "a bearer token is required")
    tokens = request.app.state.registry_state.tokens
    principal: Principal | None = tokens.verify(credentials.credentials, now=datetime.now(UTC))
    if principal is None:
        raise ApiError(401, "unauthenticated", "the token is invalid, expired or revoked")
    return principal


CurrentUser = Annotated[Principal, Depends(current_user)]


def require(*roles: str) -> Callable[[Principal], Principal]:
    """A dependency admitting only the given roles (403 for everyone else)."""

    def check(user: CurrentUser) -> Principal:
        if user.role not in roles:
            raise ApiError(403, "forbidden", f"this needs the role {' or '.join(roles)}")
        return user

    return check

"""Bearer-token authentication and role checks, as FastAPI dependencies."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import Depends, Request
from fastapi.security import HTTPBearer
from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send

from api.documented import needs_token
from api.errors import ApiError, problem, storage_failure, storage_problem
from api.tokens import Principal, TokenVerdicts
from registry.clock import utc_now


class BearerPrincipal(HTTPBearer):
    """The principal of the request's bearer token, as ONE dependency documented as the
    ``HTTPBearer`` scheme (FastAPI resolves each dependency of a request in turn, so the
    scheme, the principal and the role check are one step); 401 when missing, unknown,
    expired or revoked (the answer does not say which), 403 when ``check`` refuses it.
    `authenticate` has usually verified the token already, before the body was read: then
    its principal is taken as it is (it came from the same header, so the scheme is parsed
    no second time); ``async`` so that the usual case costs no trip through the thread
    pool."""

    def __init__(self, check: Callable[[Principal], Principal] | None = None) -> None:
        super().__init__(auto_error=False, scheme_name="HTTPBearer")
        self.check = check

    async def __call__(self, request: Request) -> Principal:  # type: ignore[override]
        state = request.scope.get("state")
        principal: Principal | None = None if state is None else state.get("principal")
        if principal is not None:  # verified by `authenticate` from this request's header
            return principal if self.check is None else self.check(principal)
        credentials = await super().__call__(request)
        if credentials is None:
            raise ApiError(401, "unauthenticated", "a bearer token is required")
        principal = await verified(request.app, credentials.credentials)
        if principal is None:
            raise ApiError(401, "unauthenticated", "the token is invalid, expired or revoked")
        return principal if self.check is None else self.check(principal)


#: the dependency of routes open to every valid token
current_user = BearerPrincipal()


def verify(app: Any, secret: str) -> Principal | None:
    """The principal of a bearer secret, if the token is valid now (its user active), read
    from the store (`api.tokens.TokenVerdicts`)."""
    state = app.state.registry_state
    verdicts: TokenVerdicts = state.verdicts
    return verdicts.verify(state.registry, secret, utc_now())


async def verified(app: Any, secret: str) -> Principal | None:
    """`verify`, answered on the event loop while a kept verdict is still true (one read of
    the store's user-change mark), else read from the store in the thread pool."""
    verdicts: TokenVerdicts = app.state.registry_state.verdicts
    known = verdicts.known(secret, utc_now())
    if known is not None:
        return known
    return await run_in_threadpool(verify, app, secret)


def bearer_secret(scope: Scope) -> str | None:
    """The secret of an ``Authorization: Bearer …`` header, if there is one."""
    for key, value in scope.get("headers", ()):
        if key.lower() == b"authorization":
            return _bearer(value)
    return None


def _bearer(value: bytes) -> str | None:
    """The secret of the first ``Authorization`` header's value, if it says ``Bearer …``."""
    scheme, _, secret = bytes(value).decode("latin-1").partition(" ")
    if scheme.lower() == "bearer" and secret.strip():
        return secret.strip()
    return None


async def authenticate(scope: Scope, receive: Receive, send: Send,
                       authorization: bytes | None) -> Principal | Literal[False] | None:
    """Verify the bearer token once per request, before the body is read (``authorization``
    is the value of the request's first ``Authorization`` header): a route documented as
    needing a token answers 401 to a request without a valid one however malformed its body,
    and costs no parsing. The principal (None without a valid token) is left in the request
    state for ``current_user`` and the Idempotency-Key step, and returned; False when the
    request has been answered here (401, 429 for a stream of invalid tokens, 503). A step of
    `api.stack.RequestStack`."""
    app = scope["app"]
    secret = None if authorization is None else _bearer(authorization)
    try:
        principal = None if secret is None else await verified(app, secret)
    except Exception as exc:
        # users and tokens are events: a store that cannot be read is 503 here too (out
        # here no exception handler would answer it, and the connection would drop)
        if not storage_failure(exc):
            raise
        await storage_problem("storage-unavailable", "StorageUnavailable",
                              "the store cannot be read to check the token; nothing of "
                              "this request was stored")(scope, receive, send)
        return False
    if secret is not None and principal is None:
        # guessing tokens costs the guesser: invalid ones are limited per client address
        refusal = app.state.limits.refuse_bad_token(scope)
        if refusal is not None:
            await refusal(scope, receive, send)
            return False
    if principal is None and needs_token(app, scope["method"], scope["path"]):
        detail = ("a bearer token is required" if secret is None
                  else "the token is invalid, expired or revoked")
        response = problem(401, "unauthenticated", "Unauthenticated", detail)
        response.headers["WWW-Authenticate"] = "Bearer"
        await response(scope, receive, send)
        return False
    scope.setdefault("state", {})["principal"] = principal
    return principal


CurrentUser = Annotated[Principal, Depends(current_user)]


def admit(user: Principal, *roles: str) -> Principal:
    """``user`` if its coarse role is one of ``roles``; 403 for everyone else. The one role
    check: `require`'s dependencies and the console's pages (plain calls) both use it."""
    if user.role not in roles:
        raise ApiError(403, "forbidden", f"this needs the role {' or '.join(roles)}")
    return user


def admit_user_role(user: Principal, *roles: str) -> Principal:
    """``user`` if they hold one of the user roles ``roles``; 403 for everyone else (the check
    of `require_user_role`, for plain calls)."""
    if not user.has(*roles):
        raise ApiError(403, "forbidden", f"this needs the role {' or '.join(roles)}")
    return user


#: each role dependency of `require` and `require_user_role` -> its plain check, for callers
#: that hold a principal and must not await (the console's pages: `api.console.roles.call`)
PLAIN_CHECKS: dict[Callable[..., Any], Callable[[Principal], Principal]] = {}


def require(*roles: str) -> BearerPrincipal:
    """A dependency admitting only the given coarse roles (403 for everyone else)."""

    def plain(user: Principal) -> Principal:
        return admit(user, *roles)

    check = BearerPrincipal(plain)
    PLAIN_CHECKS[check] = plain
    return check


def require_user_role(*roles: str) -> BearerPrincipal:
    """A dependency admitting users holding one of the given user roles (403 otherwise)."""

    def plain(user: Principal) -> Principal:
        return admit_user_role(user, *roles)

    check = BearerPrincipal(plain)
    PLAIN_CHECKS[check] = plain
    return check

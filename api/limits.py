"""Request body size cap (413) and rate limiting (429), as plain ASGI middleware.

Both answer with ``application/problem+json`` before a handler runs. The body cap counts the
bytes actually received, so a chunked body without ``Content-Length`` is capped as well. Rate
limits come from the ``limits`` library (sliding window counter, in process memory) keyed by
the authenticated user (``Authentication`` runs first), or by the client address for a request
without a valid token: however a header is spelt, the same person meets the same counter.
Guessing costs too: invalid bearer tokens (`Guards.refuse_bad_token`) and failed logins
(`Guards.login_blocked` / `Guards.login_failed`, per login and per client address, shared by
``POST /login`` and the console's sign-in form) have limits of their own.

Configuration (``create_app(env)``):

- ``REGISTRY_MAX_BODY_BYTES``: largest request body accepted, default 1 MiB;
- ``REGISTRY_RATE_LIMIT``: limits in ``limits`` notation, e.g. ``"50/second; 1000/minute"``;
  ``"none"`` switches limiting off. The default, 1000 per second per user, is generous so that
  load tests are not throttled unless they configure a limit.
- ``REGISTRY_BAD_TOKEN_LIMIT``: invalid bearer tokens per client address (default
  ``20/minute``); ``REGISTRY_LOGIN_LIMIT``: failed logins per login and per client address
  (default ``5/minute; 20/hour``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from limits.strategies import SlidingWindowCounterRateLimiter
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import problem

DEFAULT_MAX_BODY = 1024 * 1024
DEFAULT_RATE_LIMIT = "1000/second"
DEFAULT_GUESS_LIMIT = "20/minute"
DEFAULT_LOGIN_LIMIT = "5/minute; 20/hour"


def max_body_bytes(env: Mapping[str, str]) -> int:
    text = env.get("REGISTRY_MAX_BODY_BYTES", str(DEFAULT_MAX_BODY))
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"REGISTRY_MAX_BODY_BYTES must be a positive integer, not {text!r}")
    return int(text)


def rate_limits(env: Mapping[str, str], name: str = "REGISTRY_RATE_LIMIT",
                default: str = DEFAULT_RATE_LIMIT) -> list[RateLimitItem]:
    text = env.get(name, default).strip()
    if text.lower() in ("", "none", "off"):
        return []
    try:
        return parse_many(text)
    except ValueError as exc:
        raise ValueError(f"{name} {text!r}: {exc}") from None


class Guards:
    """The counters of failed attempts: invalid bearer tokens per client address, failed
    logins per login and per client address (``app.state.limits``)."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.bad_token = rate_limits(env, "REGISTRY_BAD_TOKEN_LIMIT", DEFAULT_GUESS_LIMIT)
        self.login = rate_limits(env, "REGISTRY_LOGIN_LIMIT", DEFAULT_LOGIN_LIMIT)
        self.limiter = SlidingWindowCounterRateLimiter(MemoryStorage())

    def refuse_bad_token(self, scope: Scope) -> Any:
        """Count an invalid token from this address; a 429 response once over the limit."""
        return self._count(self.bad_token, "bad-token:" + client_address(scope),
                           "invalid tokens from this address")

    def login_blocked(self, login: str, address: str) -> Any:
        """A 429 response while the login or the address is over its failure limit."""
        for key in ("login:" + login, "login-from:" + address):
            for item in self.login:
                if not self.limiter.test(item, key):
                    return _too_many(self.limiter, item, key, "failed logins")
        return None

    def login_failed(self, login: str, address: str) -> None:
        for key in ("login:" + login, "login-from:" + address):
            for item in self.login:
                self.limiter.hit(item, key)

    def _count(self, items: list[RateLimitItem], key: str, what: str) -> Any:
        for item in items:
            if not self.limiter.hit(item, key):
                return _too_many(self.limiter, item, key, what)
        return None


def _too_many(limiter: SlidingWindowCounterRateLimiter, item: RateLimitItem, key: str,
              what: str) -> Any:
    reset_at, _ = limiter.get_window_stats(item, key)
    wait = max(1, math.ceil(reset_at - time.time()))
    response = problem(429, "too-many-requests", "Too many requests",
                       f"more than {item} {what}; retry in {wait} s")
    response.headers["Retry-After"] = str(wait)
    return response


class PayloadTooLarge(HTTPException):
    """Raised from ``receive`` once the body passes the cap. An ``HTTPException`` so that
    FastAPI's body parsing lets it through to the problem handler instead of calling it a
    parse error."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body exceeds {limit} bytes")


class BodySizeLimit:
    """Refuse bodies larger than ``max_bytes`` with 413, declared or streamed."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await _too_large(self.max_bytes, scope, receive, send)
            return
        if declared is not None and _header(scope, b"transfer-encoding") is None:
            # the server hands the application exactly the declared bytes (more would be the
            # next request on the connection), so a declared length within the cap needs no
            # counting: the usual request passes through without two wrappers per message
            await self.app(scope, receive, send)
            return
        received = 0
        started = False

        async def capped_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise PayloadTooLarge(self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, capped_receive, tracking_send)
        except PayloadTooLarge:
            if started:
                raise
            await _too_large(self.max_bytes, scope, receive, send)


async def _too_large(limit: int, scope: Scope, receive: Receive, send: Send) -> None:
    response = problem(413, "payload-too-large", HTTPStatus(413).phrase,
                       f"the request body exceeds {limit} bytes")
    response.headers["Connection"] = "close"  # the rest of the body is not read
    await response(scope, receive, send)


class RateLimit:
    """At most ``limits`` requests per user (or client address) per window; 429 beyond."""

    def __init__(self, app: ASGIApp, *, limits: list[RateLimitItem]) -> None:
        self.app, self.limits = app, limits
        self.limiter = SlidingWindowCounterRateLimiter(MemoryStorage())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.limits:
            await self.app(scope, receive, send)
            return
        who = _caller(scope)
        for item in self.limits:
            # In-memory counters: microseconds, so called inline rather than in a thread.
            if not self.limiter.hit(item, who):
                reset_at, _ = self.limiter.get_window_stats(item, who)
                wait = max(1, math.ceil(reset_at - time.time()))
                response = problem(429, "too-many-requests", "Too many requests",
                                   f"more than {item} for this caller; retry in {wait} s")
                response.headers["Retry-After"] = str(wait)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _caller(scope: Scope) -> str:
    """The rate-limit key: the user ``Authentication`` verified, else the client address."""
    principal = scope.get("state", {}).get("principal")
    if principal is not None:
        return "user:" + principal.user_id
    return "client:" + client_address(scope)


def client_address(scope: Scope) -> str:
    client: Any = scope.get("client")
    return str(client[0]) if client else "unknown"


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None

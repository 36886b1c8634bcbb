"""Request body size cap (413) and rate limiting (429), as plain ASGI middleware.

Both answer with ``application/problem+json`` before a handler runs. The body cap counts the
bytes actually received, so a chunked body without ``Content-Length`` is capped as well. Rate
limits are written in the ``limits`` library's notation and counted as its sliding window
counter counts, in process memory (`SlidingWindows`), keyed by
the authenticated user (`api.auth.authenticate` runs first), or by the client address for a request
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
import threading
import time
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any

from limits import RateLimitItem, parse_many
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


class SlidingWindows:
    """Sliding-window counters in process memory, counted as the ``limits`` library's sliding
    window counter counts (the windows of a limit are aligned on multiples of its period; a
    key's count is its hits in the current window plus those of the previous one weighted by
    the share of it the sliding window still covers), without that library's memory storage,
    which restarts an expiry thread every 10 ms while requests arrive. A key's windows are
    replaced as time moves on; keys idle for two periods are dropped every `SWEEP` hits."""

    SWEEP = 10_000

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        #: (amount, period, key) -> [window number, hits in it, hits in the one before]
        self._windows: dict[tuple[int, int, str], list[int]] = {}
        self._lock = threading.Lock()
        self._hits = 0

    def _window(self, item: RateLimitItem, key: str, now: float) -> tuple[list[int], float]:
        """The key's current window and its weighted count (callers hold the lock)."""
        period = item.get_expiry()
        number = int(now // period)
        slot = (item.amount, period, key)
        window = self._windows.get(slot)
        if window is None or window[0] < number - 1:
            window = [number, 0, 0]
        elif window[0] == number - 1:
            window = [number, 0, window[1]]
        self._windows[slot] = window
        left = 1 - (now % period) / period  # the previous window's share still covered
        return window, window[2] * left + window[1]

    def hit(self, item: RateLimitItem, key: str) -> bool:
        """Count one request of ``key``; False (and nothing counted) when over the limit."""
        with self._lock:
            now = self._clock()
            window, count = self._window(item, key, now)
            self._hits += 1
            if self._hits % self.SWEEP == 0:
                self._sweep(now)
            if math.floor(count) + 1 > item.amount:
                return False
            window[1] += 1
            return True

    def test(self, item: RateLimitItem, key: str) -> bool:
        """Whether ``key`` may make one more request now (nothing counted)."""
        with self._lock:
            _, count = self._window(item, key, self._clock())
            return count < item.amount

    def reset_at(self, item: RateLimitItem, key: str) -> float:
        """When the key's count next drops by one (as ``limits`` reports it)."""
        with self._lock:
            now = self._clock()
            window, _ = self._window(item, key, now)
            period = item.get_expiry()
            left = (1 - (now % period) / period) * period  # until the current window ends
            waits = [left % (period / window[2])] if window[2] else []
            if window[1]:
                waits.append(left)
            return now + min(waits, default=0.0)

    def _sweep(self, now: float) -> None:
        stale = [slot for slot, window in self._windows.items()
                 if window[0] < int(now // slot[1]) - 1]
        for slot in stale:
            del self._windows[slot]


class Guards:
    """The counters of failed attempts: invalid bearer tokens per client address, failed
    logins per login and per client address (``app.state.limits``)."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.bad_token = rate_limits(env, "REGISTRY_BAD_TOKEN_LIMIT", DEFAULT_GUESS_LIMIT)
        self.login = rate_limits(env, "REGISTRY_LOGIN_LIMIT", DEFAULT_LOGIN_LIMIT)
        self.limiter = SlidingWindows()

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


def _too_many(limiter: SlidingWindows, item: RateLimitItem, key: str, what: str) -> Any:
    reset_at = limiter.reset_at(item, key)
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
            await too_large(self.max_bytes, scope, receive, send)
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
            await too_large(self.max_bytes, scope, receive, send)


async def too_large(limit: int, scope: Scope, receive: Receive, send: Send) -> None:
    """Answer 413 for a body over ``limit`` bytes, declared or counted."""
    response = problem(413, "payload-too-large", HTTPStatus(413).phrase,
                       f"the request body exceeds {limit} bytes")
    response.headers["Connection"] = "close"  # the rest of the body is not read
    await response(scope, receive, send)


def refuse_over_limit(limiter: SlidingWindows, limits: list[RateLimitItem],
                      scope: Scope) -> Any:
    """Count one request of its caller against each of ``limits``; a 429 response (and the
    rest not counted) at the first it is over. In-memory counters: microseconds, so called
    inline rather than in a thread. A step of `api.stack.RequestStack`."""
    who = _caller(scope)
    for item in limits:
        if not limiter.hit(item, who):
            reset_at = limiter.reset_at(item, who)
            wait = max(1, math.ceil(reset_at - time.time()))
            response = problem(429, "too-many-requests", "Too many requests",
                               f"more than {item} for this caller; retry in {wait} s")
            response.headers["Retry-After"] = str(wait)
            return response
    return None


def _caller(scope: Scope) -> str:
    """The rate-limit key: the user `api.auth.authenticate` verified, else the client address."""
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

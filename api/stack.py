"""The checks every HTTP request passes before routing, as ONE plain ASGI layer.

In order, as separate layers did before (outermost first): HEAD answered as a bodiless GET
(`api.methods.HeadAsGet`), bearer-token authentication (`api.auth.authenticate`: 401 before any
body is read, 429 for a stream of invalid tokens, 503 when the store cannot be read), the
per-user rate limit (429), the body size cap (413, `api.limits.BodySizeLimit`), Idempotency-Key
replay (`api.idempotency.Idempotency`) and the count of the saves the request committed
(`api.errors.saving`). The headers are read once for all of them, and a step with nothing to
do adds no wrapper: ``send`` and ``receive`` are wrapped only for a HEAD, a body that must be
counted (no ``Content-Length``, or a ``Transfer-Encoding``), or a request with an
Idempotency-Key; the usual request goes through one call.
"""

from __future__ import annotations

from limits import RateLimitItem
from starlette.types import ASGIApp, Receive, Scope, Send

from api.auth import authenticate
from api.errors import saving
from api.idempotency import Idempotency
from api.limits import BodySizeLimit, SlidingWindows, refuse_over_limit, too_large
from api.methods import HeadAsGet
from registry.acting import Acting, bind


class RequestStack:
    """The layer: ``max_bytes`` is the body cap, ``limits`` the per-user rate limits."""

    def __init__(self, app: ASGIApp, *, max_bytes: int, limits: list[RateLimitItem]) -> None:
        self.app, self.max_bytes, self.limits = app, max_bytes, limits
        self.limiter = SlidingWindows()
        self._head = HeadAsGet(self._checked)
        self._counted = BodySizeLimit(self._keyed, max_bytes=max_bytes)
        self._idempotent = Idempotency(self._saved)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
        elif scope["method"] == "HEAD":
            await self._head(scope, receive, send)
        else:
            await self._checked(scope, receive, send)

    async def _checked(self, scope: Scope, receive: Receive, send: Send) -> None:
        authorization = length = chunked = key = None
        for raw, value in scope.get("headers", ()):  # the first of each, as each step read
            name = raw.lower()
            if name == b"authorization":
                if authorization is None:
                    authorization = value
            elif name == b"content-length":
                if length is None:
                    length = value
            elif name == b"transfer-encoding":
                if chunked is None:
                    chunked = value
            elif name == b"idempotency-key" and key is None:
                key = value
        principal = await authenticate(scope, receive, send, authorization)
        if principal is False:  # answered
            return
        if principal is None:
            await self._limited(scope, receive, send, length, chunked, key)
            return
        # every event the request causes names this user (thread-pool handlers inherit it)
        issued_by = principal.issued_by if principal.issued_by != principal.actor else None
        with bind(Acting(actor=principal.actor, token_issued_by=issued_by)):
            await self._limited(scope, receive, send, length, chunked, key)

    async def _limited(self, scope: Scope, receive: Receive, send: Send, length: bytes | None,
                       chunked: bytes | None, key: bytes | None) -> None:
        if self.limits:
            refusal = refuse_over_limit(self.limiter, self.limits, scope)
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        if length is None or chunked is not None:  # a body to count as it arrives
            await self._counted(scope, receive, send)
            return
        declared = bytes(length).decode("latin-1")
        if not declared.isdigit() or int(declared) > self.max_bytes:
            await too_large(self.max_bytes, scope, receive, send)
            return
        # the server hands the application exactly the declared bytes (more would be the next
        # request on the connection), so a declared length within the cap needs no counting
        if key is not None:
            await self._idempotent(scope, receive, send)
        else:
            await saving(self.app, scope, receive, send)

    async def _keyed(self, scope: Scope, receive: Receive, send: Send) -> None:
        """After the body cap's counting wrappers: Idempotency-Key replay, then the saves."""
        await self._idempotent(scope, receive, send)

    async def _saved(self, scope: Scope, receive: Receive, send: Send) -> None:
        await saving(self.app, scope, receive, send)

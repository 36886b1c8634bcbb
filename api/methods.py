"""HEAD answered as GET without a body (RFC 9110 §9.3.2), as plain ASGI middleware.

FastAPI's routes register GET only, so a HEAD found no route and answered 405. Rewriting the
method before routing sends HEAD through everything GET goes through — authentication, object
checks, the handler — and only the body is dropped; ``Content-Length`` stays that of the GET.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class _BodyDropped(Exception):
    """Raised into a response that keeps sending after the bodiless end: stops a stream."""


class HeadAsGet:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return
        done = False

        async def without_body(message: Message) -> None:
            nonlocal done
            if message["type"] == "http.response.body":
                if done:  # a stream (server-sent events) would run on to its timeout
                    raise _BodyDropped
                done = True
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        try:
            await self.app({**scope, "method": "GET"}, receive, without_body)
        except _BodyDropped:
            pass
        except BaseExceptionGroup as group:  # raised inside a task group (StreamingResponse)
            rest = group.subgroup(lambda e: not isinstance(e, _BodyDropped))
            if rest is not None:
                raise rest from None

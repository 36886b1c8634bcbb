"""The live market feed as server-sent events: trades and book changes of one market.

``GET /markets/{instrument}/stream`` answers ``text/event-stream``. The first event is the
current ``book``; then every ``trade`` (also when a pending trade is approved or rejected) and
every ``book`` change after it, each with an ``id``. A stream is bounded: it ends after
``timeout`` seconds or ``limit`` events, or when the app shuts down; clients reconnect with
``Last-Event-ID`` (EventSource does so by itself) and miss nothing the feed still holds. The
ids number the feed from the start of the event log, so they survive a restart.

The generator is async and waits with ``asyncio.sleep``: an open stream holds no worker
thread, so streams cannot starve the plain ``def`` handlers of the thread pool.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from api.auth import CurrentUser
from api.deps import StateDep
from api.schemas.markets import InstrumentPath
from domain.errors import NotFound
from registry.market_data import FEED_LEVELS, MarketData

router = APIRouter()
POLL_SECONDS = 0.1
REFRESH_SECONDS = 1.0  # pick up what other processes committed at least this often
KEEPALIVE_SECONDS = 10.0


def _event(seq: int, name: str, data: dict[str, Any]) -> str:
    return f"id: {seq}\nevent: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


async def _feed(data: MarketData, instrument: str, after: int, timeout: float,
                limit: int) -> AsyncIterator[str]:
    deadline = time.monotonic() + timeout
    sent, refreshed, spoke = 0, time.monotonic(), time.monotonic()
    yield "retry: 1000\n\n"
    yield _event(after, "book", await run_in_threadpool(data.depth, instrument, FEED_LEVELS))
    sent += 1
    seen_notes = data.notes
    while sent < limit and not data.closed and time.monotonic() < deadline:
        clock = time.monotonic()
        if data.notes != seen_notes or clock - refreshed >= REFRESH_SECONDS:
            seen_notes, refreshed = data.notes, clock
            await run_in_threadpool(data.refresh)
        for m in data.messages_after(after, instrument)[: limit - sent]:
            yield _event(m.seq, m.event, m.data)
            after, sent, spoke = m.seq, sent + 1, clock
        if clock - spoke >= KEEPALIVE_SECONDS:
            yield ": keep-alive\n\n"
            spoke = clock
        await asyncio.sleep(POLL_SECONDS)


@router.get("/{instrument}/stream", response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}},
                             "description": "server-sent events: book, trade"}})
def stream(
    instrument: InstrumentPath, state: StateDep, _: CurrentUser,
    timeout: Annotated[float, Query(gt=0, le=60, description="seconds")] = 15,
    limit: Annotated[int, Query(ge=1, le=10_000, description="events")] = 1000,
    after: Annotated[int | None, Query(ge=0, le=2**62, description="last id seen")] = None,
    last_event_id: Annotated[str | None, Header(max_length=20)] = None,
) -> StreamingResponse:
    """Trades and book changes of one market, live (``text/event-stream``)."""
    data = state.market_view()
    if instrument not in data.markets:
        raise NotFound(f"market {instrument} not found")
    if after is None and last_event_id is not None and last_event_id.isdigit():
        after = int(last_event_id)
    start = data.seq if after is None else after
    return StreamingResponse(_feed(data, instrument, start, timeout, limit),
                             media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

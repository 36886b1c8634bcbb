"""The PostgreSQL recorder with bounded waits: no request waits on a down database past ~10 s.

The library's PostgreSQL recorder (eventsourcing 9.5) retries every insert and select up to
ten times on a connection error, and each try waits for a pooled connection up to
``POSTGRES_CONNECT_TIMEOUT`` (30 s by default): with the server down, one request hung for
minutes. This subclass (selected by ``APPLICATION_RECORDER_TOPIC``, `registry.config`) keeps
the library's retry, which rides out a single dropped connection, but stops once the next try
could not finish within ``DEADLINE_SECONDS``; the caller then gets the error, which the save
path resolves (`registry.storage`) and the API answers 503. Inside the insert's transaction
``statement_timeout`` bounds each statement (``lock_timeout`` already bounds the table lock).
"""

from __future__ import annotations

import functools
import random
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresAggregateRecorder, PostgresApplicationRecorder

#: a failing store call gives up once another try could not end within this many seconds
#: (with one more lookup of an in-doubt commit, `registry.storage.is_stored`, a write that
#: meets a dead server is answered within about twice this)
DEADLINE_SECONDS = 5.0
#: the pause between tries, as in the library
WAIT_SECONDS = 0.2
#: each statement of an insert's transaction
STATEMENT_TIMEOUT_MS = 10_000

F = TypeVar("F", bound=Callable[..., Any])


def bounded_retry(fn: F) -> F:
    """Retry ``fn`` on a connection error, as the library does, within `DEADLINE_SECONDS`:
    a try is only started if one as long as the slowest so far still fits."""

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        start = time.monotonic()
        slowest = 0.0
        while True:
            began = time.monotonic()
            try:
                return fn(*args, **kwargs)
            except (InterfaceError, OperationalError):
                slowest = max(slowest, time.monotonic() - began)
                pause = WAIT_SECONDS * (1 + 0.1 * (random.random() - 0.5))  # noqa: S311
                if time.monotonic() - start + pause + slowest > DEADLINE_SECONDS:
                    raise
                time.sleep(pause)

    return call  # type: ignore[return-value]


def _unwrapped(method: Any) -> Any:
    return getattr(method, "__wrapped__", method)  # the library's @retry uses functools.wraps


class BoundedPostgresRecorder(PostgresApplicationRecorder):
    """`PostgresApplicationRecorder` whose calls give up within `DEADLINE_SECONDS`."""

    insert_events = bounded_retry(_unwrapped(PostgresApplicationRecorder.insert_events))
    select_events = bounded_retry(_unwrapped(PostgresAggregateRecorder.select_events))
    select_notifications = bounded_retry(
        _unwrapped(PostgresApplicationRecorder.select_notifications))
    max_notification_id = bounded_retry(
        _unwrapped(PostgresApplicationRecorder.max_notification_id))

    def _insert_events(self, curs: Any, stored_events: Sequence[StoredEvent],
                       **kwargs: Any) -> None:
        # first statement of the insert's transaction (pipelined with the rest)
        curs.execute(f"SET LOCAL statement_timeout = {int(STATEMENT_TIMEOUT_MS)}")
        super()._insert_events(curs, stored_events, **kwargs)


TOPIC = f"{__name__}:BoundedPostgresRecorder"

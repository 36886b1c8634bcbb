"""Exactly one writer per order book across processes: PostgreSQL advisory locks.

Inside one process every market write runs under the exchange lock's thread lock. API
workers sharing one PostgreSQL store are separate processes, so each market write also holds a
session-level advisory lock (``pg_advisory_lock``), taken after the process's thread lock and
released when the write is saved or has failed. Holding it, the writer re-syncs first
(`ExchangeWriter.sync` brings its cached aggregates up to what the other process stored), so it
matches against the book as stored, never a stale copy; the event store's optimistic
versioning stays the last line of defence (a conflicting save is re-run, nothing is stored
twice).

Why a lock and not only optimistic retries: two workers matching the same book concurrently
would both do the matching work and one would always throw it away, and under load they keep
colliding. The lock costs one round trip each way per *batch* (the group commit puts many
orders in one batch).

Which lock: `ExchangeWrites` takes `exchange_lock`, ONE lock for every book (and a thread lock
around it in the process). A batch of one market posts to the cash account of every firm it touched,
and firms trade on several markets, so with a lock per book (`book_lock`) two workers writing
batches of two books at the same time wrote the same cash accounts, and one of them failed its
save and re-ran on reloaded aggregates (a `Market` reload re-matches its whole history).
PostgreSQL serialises the event table's writers anyway (``LOCK TABLE … IN EXCLUSIVE MODE``), so
one write at a time costs little parallelism, and each batch grows by what queued meanwhile.
`book_lock` stays for books whose traders share no accounts: then books shard by instrument.

Each process keeps one dedicated autocommit connection per lock (never one from the event
store's pool, which the batch itself needs). A lock waits at most ``POSTGRES_LOCK_TIMEOUT``
seconds and then fails as `ConcurrencyConflict` (HTTP 409). If the connection drops, PostgreSQL
releases the lock with the session; the next batch reconnects.

A SQLite file is written by two processes when ``registry serve`` writes its order batches in
a child (`registry.order_process`): there each lock is an ``flock`` on a lock file beside the
store (`FileBookLocks`), waited for at most ``POSTGRES_LOCK_TIMEOUT`` seconds as well. The
in-memory store is single-process, so there only the thread lock is taken.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager
from typing import Any

from domain.errors import ConcurrencyConflict
from registry.storage import StorageUnavailable

#: namespace of the lock keys, so they never collide with other users of advisory locks
_KEY_PREFIX = b"surplus-registry/order-book/"


#: the name under which `exchange_lock` holds every book at once (not an instrument code)
EXCHANGE = "*"


def lock_key(instrument: str) -> int:
    """The signed 64-bit advisory-lock key of an instrument's order book."""
    digest = hashlib.blake2b(_KEY_PREFIX + instrument.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class AdvisoryBookLocks:
    """Per-instrument advisory locks on the PostgreSQL server of an application's env."""

    def __init__(self, connect_kwargs: dict[str, Any], lock_timeout_s: int) -> None:
        self._kwargs = connect_kwargs
        self._timeout_ms = max(0, lock_timeout_s) * 1000
        self._connections: dict[str, Any] = {}
        self._guard = threading.Lock()

    def _connection(self, instrument: str) -> Any:
        import psycopg

        with self._guard:
            conn = self._connections.get(instrument)
            if conn is None or conn.closed:
                conn = psycopg.connect(**self._kwargs, autocommit=True)
                conn.execute(f"SET lock_timeout = {int(self._timeout_ms)}")
                self._connections[instrument] = conn
            return conn

    def _drop(self, instrument: str) -> None:
        with self._guard:
            conn = self._connections.pop(instrument, None)
        if conn is not None:
            conn.close()

    @contextlib.contextmanager
    def hold(self, instrument: str) -> Iterator[None]:
        """Hold the instrument's book lock for the duration of the block."""
        import psycopg

        key = lock_key(instrument)
        try:
            conn = self._connection(instrument)
            conn.execute("SELECT pg_advisory_lock(%s)", (key,))
        except psycopg.errors.LockNotAvailable:
            raise ConcurrencyConflict(
                f"order book {instrument} stayed busy in another process") from None
        except psycopg.OperationalError as exc:
            self._drop(instrument)  # the next write reconnects
            raise StorageUnavailable(f"the lock of order book {instrument} cannot be taken: "
                                     f"{exc}") from exc
        try:
            yield
        finally:
            try:
                conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
            except psycopg.Error:
                # the session is gone or broken: the server released its locks with it
                self._drop(instrument)

    def close(self) -> None:
        with self._guard:
            connections, self._connections = list(self._connections.values()), {}
        for conn in connections:
            conn.close()


class FileBookLocks:
    """Per-instrument locks across the processes writing one SQLite file: an exclusive
    ``flock`` on a lock file beside the store, one per book (``<store>.book-<key>.lock``,
    0600), held for the duration of the write. The serving process and its order writer
    (`registry.order_process`) both write the exchange. The kernel releases a lock when its
    holder ends, a ``kill -9`` included."""

    def __init__(self, store: str, lock_timeout_s: int) -> None:
        self._store = store
        self._timeout = max(0, lock_timeout_s)
        self._files: dict[str, int] = {}
        self._guard = threading.Lock()

    def _fd(self, instrument: str) -> int:
        with self._guard:
            fd = self._files.get(instrument)
            if fd is None:
                path = f"{self._store}.book-{lock_key(instrument) & (2**64 - 1):016x}.lock"
                fd = self._files[instrument] = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            return fd

    @contextlib.contextmanager
    def hold(self, instrument: str) -> Iterator[None]:
        """Hold the instrument's book lock for the duration of the block."""
        try:
            fd = self._fd(instrument)
            deadline = time.monotonic() + self._timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise ConcurrencyConflict(
                            f"order book {instrument} stayed busy in another process") from None
                    time.sleep(0.001)
        except OSError as exc:
            raise StorageUnavailable(f"the lock of order book {instrument} cannot be taken: "
                                     f"{exc}") from exc
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    def close(self) -> None:
        with self._guard:
            files, self._files = list(self._files.values()), {}
        for fd in files:
            os.close(fd)


def advisory_book_locks(env: Mapping[str, str]) -> AdvisoryBookLocks | FileBookLocks | None:
    """The book locks of an application configured by ``env`` (they connect on first use):
    advisory locks on PostgreSQL, lock files beside a SQLite file; None for a store only one
    process sees. The registry makes its own (`registry.bootstrap`)."""
    timeout = int(env.get("POSTGRES_LOCK_TIMEOUT") or "10")
    if env.get("PERSISTENCE_MODULE") == "eventsourcing.sqlite":
        db = env.get("SQLITE_DBNAME", "")
        if not db or ":memory:" in db or "mode=memory" in db:
            return None
        return FileBookLocks(db, timeout)
    if env.get("PERSISTENCE_MODULE") != "eventsourcing.postgres":
        return None
    kwargs = {
        "dbname": env.get("POSTGRES_DBNAME"), "host": env.get("POSTGRES_HOST"),
        "port": env.get("POSTGRES_PORT") or "5432", "user": env.get("POSTGRES_USER"),
        "password": env.get("POSTGRES_PASSWORD"),
        "connect_timeout": int(env.get("POSTGRES_CONNECT_TIMEOUT") or "5"),
    }
    return AdvisoryBookLocks(kwargs, timeout)


@contextlib.contextmanager
def exchange_lock(app: Any) -> Iterator[None]:
    """Every order book of ``app`` at once: one market write at a time in this process (a
    thread lock: threads of one process share the lock's session, and a session-level advisory
    lock does not exclude its own session) and, on PostgreSQL, across processes."""
    with app.exchange_guard, book_lock(app, EXCHANGE):
        yield


def book_lock(app: Any, instrument: str) -> AbstractContextManager[None]:
    """The cross-process lock of ``instrument``'s order book for ``app`` (the
    exchange's writes, `registry.exchange_writes.ExchangeWrites`)."""
    locks: AdvisoryBookLocks | FileBookLocks | None = app.book_locks
    if locks is None:
        return contextlib.nullcontext()
    return locks.hold(instrument)

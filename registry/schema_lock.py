"""Schema creation serialised across processes: one PostgreSQL advisory lock.

eventsourcing's PostgreSQL recorders create their tables, indexes and types when an application
is constructed (``create_table``: ``CREATE TABLE IF NOT EXISTS`` and friends). ``IF NOT EXISTS``
does not make concurrent creation safe: two workers starting on an empty database race in the
system catalogues and one fails with ``tuple concurrently updated`` or a duplicate-key error on
``pg_type``. So `build_registry` constructs the application while holding a session-level
advisory lock on a connection of its own: the first process creates the schema, the others wait
and then find it there. The lock is released when that connection closes, also when the
process dies (PostgreSQL ends the session). Every table the service creates in PostgreSQL is
created there (events and snapshots); tokens, idempotency claims and the ledger live in the
data folder.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator, Mapping

#: the advisory-lock key of schema creation (its own namespace: see `registry.book_lock`)
SCHEMA_LOCK_KEY = int.from_bytes(
    hashlib.blake2b(b"surplus-registry/schema", digest_size=8).digest(), "big", signed=True)
#: how long a starting process waits for another one's schema creation
WAIT_SECONDS = 60


def connect_kwargs(env: Mapping[str, str]) -> dict[str, str | None]:
    """psycopg connection arguments from the library's ``POSTGRES_*`` settings."""
    return {
        "dbname": env.get("POSTGRES_DBNAME"), "host": env.get("POSTGRES_HOST"),
        "port": env.get("POSTGRES_PORT") or "5432", "user": env.get("POSTGRES_USER"),
        "password": env.get("POSTGRES_PASSWORD"),
    }


@contextlib.contextmanager
def schema_lock(eventsourcing_env: Mapping[str, str]) -> Iterator[None]:
    """Hold the schema lock for the block when the store is PostgreSQL (else do nothing)."""
    if eventsourcing_env.get("PERSISTENCE_MODULE") != "eventsourcing.postgres":
        yield
        return
    import psycopg

    with psycopg.connect(**connect_kwargs(eventsourcing_env), autocommit=True) as conn:
        conn.execute(f"SET lock_timeout = {WAIT_SECONDS * 1000}")
        conn.execute("SELECT pg_advisory_lock(%s)", (SCHEMA_LOCK_KEY,))
        try:
            yield
        finally:
            with contextlib.suppress(psycopg.Error):  # a dropped session released it already
                conn.execute("SELECT pg_advisory_unlock(%s)", (SCHEMA_LOCK_KEY,))

"""A count of the user events stored, kept by the store itself: the mark a cached token
verdict is checked against.

Whether a bearer token is valid, and whom it names, depends only on its user's events
(`domain.user.User`: tokens issued and revoked, suspensions, roles). A verdict reached by
reading them stays true until the store holds another user event, written by this process,
another worker or the CLI beside the service. So the SQLite store keeps one number that grows
with every user event stored, in the same transaction as the event: a trigger on the events
table adds one to ``user_changes.seq`` for each row whose topic is a user event's. Whoever
writes (any process, any version of the code once the trigger exists) moves the mark, and a
rolled-back write moves nothing.

A verdict is sound while the mark has not moved since it was read *before* the user was read:
anything committed before that read is in what the verification read, anything committed after
it moves the mark. Reading the mark is one point read of a one-row table (microseconds, no
thread hop), against the user's newer events through the repository.

Only a SQLite file store has the mark (`UserChanges.open` gives None otherwise, and tokens are
verified against the store on every request, as before).
"""

from __future__ import annotations

import sqlite3
import threading
from typing import Any

from eventsourcing.sqlite import SQLiteAggregateRecorder

from domain.topics import aggregate_topic

#: every user event's topic starts so (`domain.topics.event_topic`)
USER_TOPIC_PREFIX = aggregate_topic("User") + "."


def _schema(events_table: str) -> list[str]:
    prefix = USER_TOPIC_PREFIX.replace("'", "''")
    return [
        "CREATE TABLE IF NOT EXISTS user_changes "
        "(id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL)",
        "INSERT OR IGNORE INTO user_changes (id, seq) VALUES (1, 0)",
        f"CREATE TRIGGER IF NOT EXISTS user_changed AFTER INSERT ON {events_table} "  # noqa: S608
        f"WHEN substr(NEW.topic, 1, {len(USER_TOPIC_PREFIX)}) = '{prefix}' "
        "BEGIN UPDATE user_changes SET seq = seq + 1 WHERE id = 1; END",
    ]


class UserChanges:
    """The mark of one SQLite store, read on a connection of its own."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db
        self._lock = threading.Lock()

    @classmethod
    def open(cls, registry: Any) -> UserChanges | None:
        """The mark of ``registry``'s store, its table and trigger created if missing; None
        unless the store is a SQLite file."""
        recorder = registry.recorder
        if not isinstance(recorder, SQLiteAggregateRecorder):
            return None
        pool = recorder.datastore.pool  # the library's connection settings
        if pool.is_sqlite_memory_mode:
            return None
        db = sqlite3.connect(pool.db_name, uri=True, check_same_thread=False,
                             isolation_level=None, timeout=pool.lock_timeout or 5)
        try:
            db.execute("BEGIN IMMEDIATE")  # one creator at a time, the row and trigger together
            for statement in _schema(recorder.events_table_name):
                db.execute(statement)
            db.execute("COMMIT")
        except BaseException:
            db.close()
            raise
        return cls(db)

    def mark(self) -> int | None:
        """The number of user events the store holds now (a read of its own: it sees every
        write committed before it); None while the store cannot be read (callers then read
        the user itself, which reports the failure)."""
        try:
            with self._lock:
                # fetchone: one step of the statement, not a second one to find its end; each
                # step releases the interpreter lock, and on a busy event loop the threads
                # that take it meanwhile cost more than the read (the cursor, dropped at
                # once, resets the statement: no read transaction is left open)
                row = self._db.execute("SELECT seq FROM user_changes WHERE id = 1").fetchone()
        except sqlite3.Error:
            return None
        return None if row is None else int(row[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()

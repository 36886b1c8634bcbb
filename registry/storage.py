"""Saving that leaves no phantom, no version gap, and never answers a stored write as a refusal.

eventsourcing's ``save`` takes the pending events off the aggregates before it records them,
so after a failed recording an aggregate object is *ahead* of the store: it holds events that
were never stored, and saving it again would store version N+2 over a missing N+1. Three
things here make that impossible and tell callers the truth:

- **Versions follow the stored ones** (`check_versions_follow`): before every recording, the
  first version a save writes for each aggregate must be one past the version stored for it
  (one query for the whole save). A copy that is ahead is refused with `VersionGap`, an
  ``IntegrityError``, so the command's bounded retry re-runs it on fresh copies. Versions only
  grow and each (aggregate, version) is unique, so a save that passes the check either
  continues the stored versions exactly or conflicts.
- **In-doubt outcomes are looked up** (`is_stored`): when recording fails in a way that leaves
  the commit uncertain (a lost connection, a timeout, an error after the commit, or the
  library's own retry of an insert that had committed meeting its own rows as a conflict), the
  save's first event is its natural key at the store level: aggregate id and version, matched
  by topic and timestamp. Found: the save succeeded and returns normally. Absent: nothing was
  stored, `StorageUnavailable` (503, safe to retry). The store cannot answer: `OutcomeUnknown`
  (503 ``outcome-unknown``).
- **Snapshots never fail a save**: they are written after the events, which are the record; a
  snapshot that cannot be written is logged and simply not there.

Callers that keep aggregates between commands (the exchange writer) drop every copy after any
failure that is not a domain refusal.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from contextvars import ContextVar
from functools import partial
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import IntegrityError, PersistenceError
from eventsourcing.postgres import PostgresAggregateRecorder
from eventsourcing.sqlite import SQLiteAggregateRecorder

log = logging.getLogger(__name__)

#: seconds a client should wait before retrying a write the store refused
RETRY_AFTER_SECONDS = 2


#: a scope (one HTTP request) may set a list here: every save committed in it appends one
#: entry, so that a storage failure *after* a save is not answered as "nothing was stored"
committed_saves: ContextVar[list[int] | None] = ContextVar("committed_saves", default=None)


def _committed(result: Any) -> Any:
    saves = committed_saves.get()
    if saves is not None:
        saves.append(1)
    return result


class StorageError(Exception):
    """The event store could not complete a write; ``code`` is the problem type."""

    code = "storage-error"


class StorageUnavailable(StorageError):
    """The store refused or could not take the write (disk full, database down); nothing of
    it was stored and it is safe to retry."""

    code = "storage-unavailable"


class OutcomeUnknown(StorageError):
    """The write may or may not have been stored, and the store could not be asked."""

    code = "outcome-unknown"


class VersionGap(IntegrityError):
    """A save would store versions that do not follow the stored ones (a copy ahead of the
    store). Nothing was stored; the command re-runs on fresh copies."""


def unavailable(exc: BaseException) -> StorageUnavailable | None:
    """``exc`` as `StorageUnavailable` when it is the store failing outside a save (loading
    before a command writes): nothing was stored. None for anything else."""
    if isinstance(exc, IntegrityError) or not isinstance(exc, PersistenceError):
        return None
    found = StorageUnavailable(f"the store cannot be read: {exc}")
    found.__cause__ = exc
    return found


def first_versions(events: Iterable[Any]) -> dict[UUID, int]:
    """The first version a save writes for each aggregate."""
    first: dict[UUID, int] = {}
    for e in events:
        v = first.get(e.originator_id)
        if v is None or e.originator_version < v:
            first[e.originator_id] = e.originator_version
    return first


def stored_versions(recorder: Any, ids: Sequence[UUID]) -> dict[UUID, int]:
    """The highest stored version of each of ``ids`` (absent ids are left out): one query on
    SQLite and PostgreSQL; `stored_versions_plain` elsewhere (and as its reference)."""
    if not ids:
        return {}
    if isinstance(recorder, SQLiteAggregateRecorder):
        marks = ",".join("?" * len(ids))
        with recorder.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT originator_id, MAX(originator_version) AS v "  # noqa: S608
                      f"FROM {recorder.events_table_name} WHERE originator_id IN ({marks}) "
                      "GROUP BY originator_id", [i.hex for i in ids])
            return {UUID(r["originator_id"]): int(r["v"]) for r in c.fetchall()}
    if isinstance(recorder, PostgresAggregateRecorder):
        return _stored_versions_postgres(recorder, ids)
    return stored_versions_plain(recorder, ids)


def _pg_stored_versions(recorder: Any, ids: Sequence[UUID]) -> dict[UUID, int]:
    from psycopg.sql import SQL, Identifier

    query = SQL("SELECT originator_id, MAX(originator_version) AS v FROM {}.{} "
                "WHERE originator_id = ANY(%s) GROUP BY originator_id").format(
        Identifier(recorder.datastore.schema), Identifier(recorder.events_table_name))
    with recorder.datastore.transaction(commit=False) as curs:
        curs.execute(query, (list(ids),))
        return {UUID(str(r["originator_id"])): int(r["v"]) for r in curs.fetchall()}


def _stored_versions_postgres(recorder: Any, ids: Sequence[UUID]) -> dict[UUID, int]:
    """One query, retried like the recorder's own calls (a pooled connection the server
    dropped fails once; `registry.pg_recorder`)."""
    from registry.pg_recorder import bounded_retry

    found: dict[UUID, int] = bounded_retry(_pg_stored_versions)(recorder, ids)
    return found


def stored_versions_plain(recorder: Any, ids: Sequence[UUID]) -> dict[UUID, int]:
    """`stored_versions` through the recorder's public API, one query per aggregate."""
    found: dict[UUID, int] = {}
    for i in ids:
        last = recorder.select_events(i, desc=True, limit=1)
        if last:
            found[i] = int(last[0].originator_version)
    return found


def check_versions_follow(app: Application[Any], events: Sequence[Any]) -> None:
    """Refuse (`VersionGap`) a save whose first version of an aggregate is not one past the
    version stored for it."""
    later = {i: v for i, v in first_versions(events).items() if v > 1}
    if not later:
        return
    stored = stored_versions(app.recorder, list(later))
    gaps = {i: (stored.get(i, 0), v) for i, v in later.items() if stored.get(i, 0) != v - 1}
    if gaps:
        detail = ", ".join(f"{i} stored {s} writes {v}" for i, (s, v) in gaps.items())
        log.error("refused a save that would leave a version gap: %s", detail)
        raise VersionGap(f"versions would not follow the stored ones: {detail}")


def is_stored(app: Application[Any], events: Sequence[Any]) -> bool | None:
    """Whether the save of ``events`` was committed (they are atomic: its first event tells),
    or None if the store cannot be asked."""
    e = events[0]
    # one try, not the recorder's retry: the write itself has just used up that time
    select = getattr(app.recorder.select_events, "__wrapped__", None)
    select = app.recorder.select_events if select is None else partial(select, app.recorder)
    try:
        found = select(e.originator_id, gt=e.originator_version - 1,
                       lte=e.originator_version, limit=1)
        if not found:
            return False
        stored = app.mapper.to_domain_event(found[0])
    except (PersistenceError, OSError):
        return None
    return type(stored) is type(e) and stored.timestamp == e.timestamp


Record = Callable[[Any], Any]


def record_checked(app: Application[Any], processing_event: Any, record: Record) -> Any:
    """``record(processing_event)`` (the library's ``_record``) with the version check before
    it and the in-doubt outcome resolved after a failure (see the module docstring)."""
    events = processing_event.events
    if not events:
        return record(processing_event)
    try:
        check_versions_follow(app, events)
    except VersionGap:
        raise
    except (PersistenceError, OSError) as exc:  # before anything was written
        raise StorageUnavailable(f"the store cannot be read: {exc}") from exc
    try:
        return _committed(record(processing_event))
    except VersionGap:
        raise
    except IntegrityError:
        # A real conflict, or on PostgreSQL the library's retry of an insert whose commit
        # got through before the connection was lost: our own rows, seen as a conflict.
        stored = is_stored(app, events)
        if stored:
            log.warning("a save reported a conflict but its events are stored: done")
            return _committed([])
        if stored is None:
            raise OutcomeUnknown("the store failed while this write was being committed "
                                 "and cannot be asked whether it was") from None
        raise
    except (PersistenceError, OSError) as exc:
        stored = is_stored(app, events)
        if stored:
            log.warning("a save failed (%s) after its events were committed: done", exc)
            return _committed([])
        if stored is None:
            raise OutcomeUnknown("the store failed while this write was being committed "
                                 "and cannot be asked whether it was") from exc
        raise StorageUnavailable(f"the store did not take the write: {exc}") from exc


def take_snapshots_safely(take: Callable[[], None]) -> None:
    """Run ``take`` (the save's due snapshots): a failure is logged, never raised, since the
    events it follows are already stored."""
    try:
        take()
    except (PersistenceError, OSError):
        log.warning("snapshots after a save could not be written; loading replays events",
                    exc_info=True)


__all__ = [
    "RETRY_AFTER_SECONDS",
    "OutcomeUnknown",
    "StorageError",
    "StorageUnavailable",
    "VersionGap",
    "check_versions_follow",
    "committed_saves",
    "is_stored",
    "record_checked",
    "stored_versions",
    "stored_versions_plain",
    "unavailable",
]

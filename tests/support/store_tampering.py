"""Edits an operator could make to a SQLite event store behind the registry's back, for the
tests that the ledger catches them: one byte of one event changed, its encoding broken, one
event deleted, two events swapped. Each takes the store's connection and the log position
(SQLite rowid) of the event to tamper with; the caller commits."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

Tamper = Callable[[sqlite3.Connection, int], None]


def flip_one_byte(db: sqlite3.Connection, target: int) -> None:
    """One bit of a character inside a JSON string: the event still decodes, but says otherwise."""
    (state,) = db.execute("SELECT state FROM stored_events WHERE rowid = ?", (target,)).fetchone()
    i = state.index(b"Agency") + 2
    tampered = state[:i] + bytes([state[i] ^ 0x01]) + state[i + 1:]
    db.execute("UPDATE stored_events SET state = ? WHERE rowid = ?", (tampered, target))


def break_encoding(db: sqlite3.Connection, target: int) -> None:
    """The event's first byte cut off: it no longer decodes."""
    db.execute("UPDATE stored_events SET state = substr(state, 2) WHERE rowid = ?", (target,))


def delete_one(db: sqlite3.Connection, target: int) -> None:
    db.execute("DELETE FROM stored_events WHERE rowid = ?", (target,))


def swap_two(db: sqlite3.Connection, target: int) -> None:
    """The events at ``target`` and ``target + 1`` change places in the log."""
    rows = {r[0]: r[1:] for r in db.execute(
        "SELECT rowid, originator_id, originator_version, topic, state FROM stored_events "
        "WHERE rowid IN (?, ?)", (target, target + 1))}
    db.execute("UPDATE stored_events SET originator_id = 'x' WHERE rowid = ?", (target,))
    for rowid, other in ((target + 1, target), (target, target + 1)):
        db.execute("UPDATE stored_events SET originator_id = ?, originator_version = ?, "
                   "topic = ?, state = ? WHERE rowid = ?", (*rows[other], rowid))

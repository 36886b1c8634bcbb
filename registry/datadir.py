"""The data folder is private: created 0700, every file in it 0600.

It holds the event store, the ledger, the signing key, the token hashes and the stored
responses of idempotent requests. The folder is created (and tightened) 0700, and each file
is created 0600 before anything opens it; SQLite creates its ``-wal`` and ``-shm`` files with
the permissions of the database file, so pre-creating the database 0600 covers them too.
`secure_tree` tightens what an earlier release left more open.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: str | os.PathLike[str]) -> Path:
    """``path`` as a folder only its owner can enter (created with its parents if missing)."""
    folder = Path(path)
    folder.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    if folder.stat().st_mode & 0o777 != DIR_MODE:
        folder.chmod(DIR_MODE)
    return folder


def private_file(path: str | os.PathLike[str]) -> Path:
    """``path`` as a file only its owner can read (created empty if missing), and its SQLite
    companions if they exist."""
    file = Path(path)
    os.close(os.open(file, os.O_CREAT | os.O_WRONLY, FILE_MODE))
    for each in (file, Path(f"{file}-wal"), Path(f"{file}-shm"), Path(f"{file}-journal")):
        try:
            if each.stat().st_mode & 0o777 != FILE_MODE:
                each.chmod(FILE_MODE)
        except FileNotFoundError:
            continue
    return file


def shared_sqlite(path: str | os.PathLike[str],
                  setup: Callable[[sqlite3.Connection], None]) -> sqlite3.Connection:
    """A connection to a SQLite file of the data folder that several processes open (the
    workers of ``registry serve --workers N``, the CLI beside them): private, in WAL mode,
    autocommit, usable from any thread, after ``setup(connection)`` (pragmas, ``CREATE … IF
    NOT EXISTS``, a migration, a companion file such as a key) has run on it.

    Two processes opening a new file at once race on switching it to WAL and creating its
    tables, and SQLite answers the loser ``database is locked`` at once (its busy handler is
    not called where waiting could deadlock): a worker failed to start. The opening is
    therefore serialised by an exclusive lock on a companion ``.lock`` file, held only
    while connecting and running ``setup``; one process's ``setup`` is done before another's
    begins."""
    file = private_file(path)
    lock = os.open(f"{file}.lock", os.O_CREAT | os.O_RDWR, FILE_MODE)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        db = sqlite3.connect(str(file), check_same_thread=False, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            setup(db)
        except BaseException:
            db.close()
            raise
        return db
    finally:
        os.close(lock)  # closing the descriptor releases the lock


def secure_tree(path: str | os.PathLike[str]) -> None:
    """Tighten the folder and every file and folder under it (0600 / 0700).

    Other processes may be at work in the folder meanwhile (the workers of ``registry serve
    --workers N`` start together): a transient file listed by the walk, such as SQLite's
    ``-journal`` of another worker's first write, can be gone by the time it is tightened.
    What is gone has nothing left to protect, so it is passed over; any other error is
    raised."""
    root = private_dir(path)
    for folder, dirs, files in os.walk(root):
        for d in dirs:
            _tighten(os.path.join(folder, d), DIR_MODE)
        for f in files:
            full = os.path.join(folder, f)
            if not os.path.islink(full):
                _tighten(full, FILE_MODE)


def _tighten(path: str, mode: int) -> None:
    with contextlib.suppress(FileNotFoundError):  # removed since the walk listed it
        os.chmod(path, mode)

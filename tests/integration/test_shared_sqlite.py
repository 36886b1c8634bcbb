"""The data folder's SQLite files that every worker of ``registry serve --workers N`` opens
(stored idempotent responses, credentials, console sessions): two processes opening a new one
at the same moment both succeed and work on one file, with one sealing key.

Opened without the lock of `registry.datadir.shared_sqlite`, about one trial in seven failed
with ``database is locked`` (a worker that fails to start stops the whole service)."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path
from typing import Any

import pytest

from api.console.sessions import SessionStore
from api.idempotency import IdempotencyStore
from registry.credentials import CredentialStore

TRIALS = 25  # per store; without the lock the chance that every trial passes is under 2%


def _open(kind: str, path: str, at: float, results: Any) -> None:
    while time.time() < at:  # both processes start opening at the same instant
        pass
    try:
        if kind == "idempotency":
            IdempotencyStore(path)
        elif kind == "credentials":
            store = CredentialStore(path)
            results.put(("key", store._key))
        else:
            SessionStore(Path(path), key=b"k" * 32)
        results.put(("ok", None))
    except Exception as exc:
        results.put(("failed", repr(exc)))


@pytest.mark.parametrize("kind", ["idempotency", "credentials", "sessions"])
def test_two_processes_open_a_new_store_at_once(tmp_path: Path, kind: str) -> None:
    ctx = multiprocessing.get_context("fork")
    for trial in range(TRIALS):
        where = tmp_path / f"{kind}-{trial}"
        path = where if kind == "credentials" else where.with_suffix(".sqlite")
        results = ctx.Queue()
        at = time.time() + 0.2
        procs = [ctx.Process(target=_open, args=(kind, str(path), at, results))
                 for _ in range(2)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(timeout=30)
        answers = [results.get(timeout=5) for _ in range(3 if kind == "credentials" else 2)]
        answers += [results.get(timeout=5)] if kind == "credentials" else []
        failed = [detail for what, detail in answers if what == "failed"]
        assert not failed, (trial, failed)
        if kind == "credentials":
            keys = {detail for what, detail in answers if what == "key"}
            assert len(keys) == 1, "both processes must seal with the one key on disk"
            assert (path / "credentials.key").stat().st_mode & 0o777 == 0o600
        file = path / "credentials.sqlite" if kind == "credentials" else path
        assert file.stat().st_mode & 0o777 == 0o600

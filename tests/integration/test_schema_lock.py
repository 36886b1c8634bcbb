"""Several processes starting on an empty PostgreSQL database create the schema one at a time
(`registry.schema_lock`): without the lock, concurrent ``CREATE TABLE IF NOT EXISTS`` of the
library's recorders failed with ``tuple concurrently updated`` in about one start in eight."""

from __future__ import annotations

import multiprocessing
import threading
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

from registry.bootstrap import build_registry
from registry.schema_lock import SCHEMA_LOCK_KEY, connect_kwargs
from tests.support import pgserver

pytestmark = pytest.mark.postgres
STARTERS = 4


def _start(env: dict[str, str], at: float, results: Any) -> None:
    while time.time() < at:  # every process leaves the mark together
        pass
    try:
        build_registry(env).close()
        results.put("ok")
    except Exception as e:
        results.put(f"{type(e).__name__}: {e}")


def test_processes_racing_on_an_empty_database_all_start(
        postgres_server: pgserver.PostgresServer, tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    for trial in range(3):
        env = {"REGISTRY_STORE": "postgres", "REGISTRY_DATA_DIR": str(tmp_path / f"{trial}"),
               **pgserver.create_database(postgres_server, f"schema_race_{trial}")}
        results = ctx.Queue()
        at = time.time() + 3  # spawned interpreters need a moment to import
        procs = [ctx.Process(target=_start, args=(env, at, results)) for _ in range(STARTERS)]
        for p in procs:
            p.start()
        outcomes = [results.get(timeout=120) for _ in procs]
        for p in procs:
            p.join(timeout=60)
        assert outcomes == ["ok"] * STARTERS, outcomes
        app = build_registry(env)  # and the schema they made works
        assert app.recorder.max_notification_id() in (None, 0)
        app.close()


def _tables(env: dict[str, str]) -> set[str]:
    with psycopg.connect(**connect_kwargs(env)) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return {r[0] for r in rows}


def test_a_start_waits_while_another_process_creates_the_schema(
        postgres_env: dict[str, str], tmp_path: Path) -> None:
    env = {"REGISTRY_STORE": "postgres", "REGISTRY_DATA_DIR": str(tmp_path), **postgres_env}
    started: list[Any] = []
    with psycopg.connect(**connect_kwargs(env), autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (SCHEMA_LOCK_KEY,))
        thread = threading.Thread(target=lambda: started.append(build_registry(env)))
        thread.start()
        thread.join(timeout=2)
        assert thread.is_alive() and not started  # waiting for the lock
        assert "registry_events" not in _tables(env)  # and has created nothing meanwhile
        holder.execute("SELECT pg_advisory_unlock(%s)", (SCHEMA_LOCK_KEY,))
        thread.join(timeout=60)
    assert started and "registry_events" in _tables(env)
    started[0].close()

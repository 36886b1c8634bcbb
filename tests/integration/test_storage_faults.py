"""Real storage faults: SQLite out of space, a PostgreSQL connection killed in the middle of a
batch or right after its commit. Writes are refused cleanly or answered as done, and once
storage is back every read and write works from what is stored, without a restart."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import OperationalError

from domain.exchange.orders import Order
from registry.bootstrap import Registry, build_registry
from registry.storage import OutcomeUnknown, StorageUnavailable
from tests.integration.test_exchange_journeys import COD, PRICE, exchange_world
from tests.integration.test_save_faults import assert_clean, cache_is_stored, version_gaps
from tests.support.world import AT


class DiskFull:
    """SQLite's ``max_page_count`` on every connection the store hands out: while ``full``,
    the database may not grow by a page (SQLITE_FULL, as on a full disk)."""

    def __init__(self, app: Registry) -> None:
        self.pool = app.recorder.datastore.pool  # type: ignore[attr-defined]
        self.full = False
        self._get = self.pool.get_connection
        self.pool.get_connection = self._get_connection

    def _get_connection(self, *args: Any, **kwargs: Any) -> Any:
        conn = self._get(*args, **kwargs)
        pages = 1 if self.full else 1 << 30  # clamped to the pages the database has
        conn._sqlite_conn.execute(f"PRAGMA max_page_count = {pages}")
        return conn


def test_sqlite_out_of_space_refuses_writes_and_resumes(tmp_path: Path) -> None:
    app = build_registry({"REGISTRY_DATA_DIR": str(tmp_path / "data")})
    w = exchange_world(app)
    disk = DiskFull(app)
    disk.full = True
    refused = acked = 0
    for n in range(1, 401):  # orders until the database needs a page it may not have
        who, side = (w.dyeing, "S") if n % 2 else (w.paper, "B")
        try:
            app.exchange.submit_orders(instrument=COD, requests=[
                Order(f"d-{n}", who, side, "L", PRICE, 1_000, "desk")], at=AT)
        except StorageUnavailable:
            refused += 1
            if refused == 3:
                break
        else:
            acked += 1
    assert refused == 3
    with pytest.raises(StorageUnavailable):  # a command, too, once its page is not there
        for k in range(400):
            app.exchange.deposit(enterprise=w.paper, amount=1, reference=f"FULL-{k}",
                                 administrator="admin-cash", at=AT)
    assert app.exchange.cash_account(w.paper).balance > 0  # reads go on
    disk.full = False  # space is back: writes resume by themselves
    for k in range(6):
        who, side = (w.dyeing, "S") if k % 2 else (w.paper, "B")
        (o,) = app.exchange.submit_orders(instrument=COD, requests=[
            Order(f"r-{k}", who, side, "L", PRICE, 1_000, "desk")], at=AT)
        assert o.exception is None
    app.exchange.deposit(enterprise=w.paper, amount=1, reference="AFTER",
                         administrator="admin-cash", at=AT)
    assert_clean(app, tmp_path / "export")
    app.close()


@contextlib.contextmanager
def _killed_connection(app: Registry, *, after_commit: bool) -> Iterator[list[int]]:
    """Kill the store's connection once, in the middle of an insert's transaction (before
    its commit) or right after the commit, before its answer is read."""
    import psycopg

    recorder: Any = app.recorder
    datastore = recorder.datastore
    env = app.env
    killed: list[int] = []

    def terminate(pid: int) -> None:
        with psycopg.connect(dbname=env["POSTGRES_DBNAME"], host=env["POSTGRES_HOST"],
                             port=env["POSTGRES_PORT"], user=env["POSTGRES_USER"],
                             password=env["POSTGRES_PASSWORD"], autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        killed.append(pid)

    insert = recorder._insert_stored_events
    get_connection = datastore.get_connection

    def insert_then_kill(curs: Any, stored_events: Any, **kwargs: Any) -> None:
        insert(curs, stored_events, **kwargs)
        if not killed and not after_commit:
            terminate(curs.connection.info.backend_pid)

    inserted_on: set[int] = set()

    @contextlib.contextmanager
    def connection_killed_after_commit() -> Iterator[Any]:
        with get_connection() as conn:
            yield conn
        if not killed and id(conn) in inserted_on:  # committed: now lose the answer
            terminate(conn.info.backend_pid)
            raise OperationalError("server closed the connection unexpectedly")

    def mark_insert(curs: Any, stored_events: Any, **kwargs: Any) -> None:
        insert(curs, stored_events, **kwargs)
        inserted_on.add(id(curs.connection))

    if after_commit:
        recorder._insert_stored_events = mark_insert
        datastore.get_connection = connection_killed_after_commit
    else:
        recorder._insert_stored_events = insert_then_kill
    try:
        yield killed
    finally:
        recorder._insert_stored_events = insert
        datastore.get_connection = get_connection


@pytest.mark.postgres
@pytest.mark.parametrize("after_commit", [False, True])
def test_postgres_connection_killed_mid_batch(postgres_env: dict[str, str], tmp_path: Path,
                                              after_commit: bool,
                                              caplog: pytest.LogCaptureFixture) -> None:
    """Killed before the commit, the library's retry writes the batch on a new connection;
    killed after it, the retry meets the batch's own rows as a conflict. Either way the order
    is stored once and answered as accepted, never refused as a reused order id."""
    app = build_registry({"REGISTRY_STORE": "postgres", "REGISTRY_DATA_DIR": str(tmp_path),
                          **postgres_env})
    w = exchange_world(app)
    app.exchange.submit_orders(instrument=COD, requests=[
        Order("s-1", w.dyeing, "S", "L", PRICE, 2_000, "desk")], at=AT)
    with _killed_connection(app, after_commit=after_commit) as killed:
        (o,) = app.exchange.submit_orders(instrument=COD, requests=[
            Order("b-1", w.paper, "B", "L", PRICE, 1_000, "desk")], at=AT)
    assert killed, "the fault was not injected"
    resolved = "reported a conflict but its events are stored" in caplog.text
    assert resolved == after_commit  # the library's retry met the batch's own rows
    assert o.exception is None and len(o.fills) == 1
    (again,) = app.exchange.submit_orders(instrument=COD, requests=[
        Order("b-2", w.paper, "B", "L", PRICE, 1_000, "desk")], at=AT)
    assert again.exception is None and len(again.fills) == 1
    assert app.exchange.market(COD).trade_count == 2
    assert version_gaps(app) == {}
    assert_clean(app, tmp_path / "export")
    app.close()


@pytest.mark.postgres
def test_postgres_down_refuses_writes_and_they_resume_by_themselves(
        postgres_env: dict[str, str], tmp_path: Path) -> None:
    """The database stops taking connections and every session is killed (as when the server
    goes down); writes are refused as StorageUnavailable, nothing half-done is kept, and once
    it takes connections again the same process writes on."""
    import psycopg

    app = build_registry({"REGISTRY_STORE": "postgres", "REGISTRY_DATA_DIR": str(tmp_path),
                          **postgres_env})
    w = exchange_world(app)
    app.exchange.submit_orders(instrument=COD, requests=[
        Order("s-1", w.dyeing, "S", "L", PRICE, 2_000, "desk")], at=AT)
    db = postgres_env["POSTGRES_DBNAME"]
    assert cache_is_stored(app)
    admin = psycopg.connect(host=postgres_env["POSTGRES_HOST"],
                            port=postgres_env["POSTGRES_PORT"],
                            user=postgres_env["POSTGRES_USER"],
                            password=postgres_env["POSTGRES_PASSWORD"], dbname="registry",
                            autocommit=True)
    try:
        admin.execute(f'ALTER DATABASE "{db}" ALLOW_CONNECTIONS false')
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      "WHERE datname = %s", (db,))
        with pytest.raises((StorageUnavailable, OutcomeUnknown)):
            app.exchange.submit_orders(instrument=COD, requests=[
                Order("b-1", w.paper, "B", "L", PRICE, 1_000, "desk")], at=AT)
        with pytest.raises((StorageUnavailable, OutcomeUnknown)):
            app.exchange.deposit(enterprise=w.paper, amount=1, reference="DOWN-1",
                                 administrator="admin-cash", at=AT)
    finally:
        admin.execute(f'ALTER DATABASE "{db}" ALLOW_CONNECTIONS true')
        admin.close()
    assert cache_is_stored(app)  # nothing the refused writes did is held
    (o,) = app.exchange.submit_orders(instrument=COD, requests=[
        Order("b-1", w.paper, "B", "L", PRICE, 1_000, "desk")], at=AT)
    assert o.exception is None and len(o.fills) == 1
    app.exchange.deposit(enterprise=w.paper, amount=1, reference="DOWN-1",
                         administrator="admin-cash", at=AT)
    assert_clean(app, tmp_path / "export")
    app.close()

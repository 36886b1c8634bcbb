"""One writer per order book across processes sharing a store (two registries stand for two
processes: two API workers on PostgreSQL, the serving process and its order writer on a SQLite
file): the lock excludes the other writer of the same book only, and books written alternately
by both stay equal to their replay with every order stored once."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from domain.errors import ConcurrencyConflict
from domain.exchange.orders import Order
from loadtests.load_checks import (
    Report,
    check_acknowledged,
    check_books,
    check_conservation,
    scan_markets,
)
from loadtests.load_world import MARKETS, seed
from registry.book_lock import FileBookLocks, book_lock, exchange_lock, lock_key
from registry.bootstrap import build_registry
from registry.exchange_writer import ExchangeWriter

AT = "2025-06-02T10:00:00+08:00"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def shared(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    """The environment of a store two processes write: a SQLite file, or PostgreSQL."""
    if request.param == "sqlite":
        return {"REGISTRY_DATA_DIR": str(tmp_path / "data")}
    return {"REGISTRY_STORE": "postgres", "REGISTRY_DATA_DIR": str(tmp_path),
            **request.getfixturevalue("postgres_env")}


def trade_then_check(env: dict[str, str], manifest: Any, workers: list[Any],
                     trade: Callable[[int], None], *, threads: int,
                     acked: list[tuple[str, str]]) -> Report:
    """Run ``trade(n)`` on ``threads`` threads, close the workers, then reopen the store and
    check every acknowledged order is stored once, units and cash are conserved and every book
    equals its replay."""
    running = [threading.Thread(target=trade, args=(n,)) for n in range(threads)]
    for t in running:
        t.start()
    for t in running:
        t.join()
    for w in workers:
        w.close()
    app = build_registry(env)
    try:
        report = Report()
        stored = scan_markets(app)
        check_acknowledged(report, stored, acked, [])
        check_conservation(report, app, manifest)
        check_books(report, app, stored)
    finally:
        app.close()
    return report


def test_lock_keys_differ_per_instrument_and_fit_a_bigint() -> None:
    keys = {lock_key(m.instrument) for m in MARKETS}
    assert len(keys) == len(MARKETS)
    assert all(-2**63 <= k < 2**63 for k in keys)


def test_only_a_store_of_one_process_needs_no_lock(tmp_path: Path) -> None:
    app = build_registry({"REGISTRY_STORE": "memory"})
    try:
        with book_lock(app.exchange_writes, "ENERGY-2025-GD"):
            assert app.exchange_writes.book_locks is None
    finally:
        app.close()
    app = build_registry({"REGISTRY_DATA_DIR": str(tmp_path)})
    try:
        assert isinstance(app.exchange_writes.book_locks, FileBookLocks)
        with book_lock(app.exchange_writes, "ENERGY-2025-GD"):
            locks = list((tmp_path).glob("registry.sqlite.book-*.lock"))
        assert len(locks) == 1 and locks[0].stat().st_mode & 0o777 == 0o600
    finally:
        app.close()


def test_a_file_lock_held_elsewhere_too_long_is_a_conflict(tmp_path: Path) -> None:
    a = FileBookLocks(str(tmp_path / "store"), 0)
    b = FileBookLocks(str(tmp_path / "store"), 0)
    try:
        with (a.hold("ENERGY-2025-GD"), pytest.raises(ConcurrencyConflict, match="busy"),
              b.hold("ENERGY-2025-GD")):
            pass
        with b.hold("ENERGY-2025-GD"):  # released with the block
            pass
    finally:
        a.close()
        b.close()


def waits_for(holder, lock, other) -> bool:
    """True if ``other`` (a context manager factory) waits while ``holder`` holds ``lock``,
    and enters once it is released."""
    entered = threading.Event()

    def take() -> None:
        with other():
            entered.set()

    with lock():
        t = threading.Thread(target=take)
        t.start()
        t.join(0.5)
        waited = not entered.is_set()
    t.join(10)
    return waited and entered.is_set()


def test_one_market_write_at_a_time_in_a_process(tmp_path: Path) -> None:
    app = build_registry({"REGISTRY_DATA_DIR": str(tmp_path)})
    try:
        assert waits_for(app, lambda: exchange_lock(app.exchange_writes),
                         lambda: exchange_lock(app.exchange_writes))
    finally:
        app.close()


def test_the_exchange_lock_makes_the_other_process_wait_for_every_book(
        shared: dict[str, str]) -> None:
    env = shared
    a, b = build_registry(env), build_registry(env)
    try:
        assert waits_for(a, lambda: exchange_lock(a.exchange_writes),
                         lambda: exchange_lock(b.exchange_writes))
    finally:
        a.close()
        b.close()


def test_the_other_process_waits_for_the_same_book_only(shared: dict[str, str]) -> None:
    env = shared
    a, b = build_registry(env), build_registry(env)
    entered = {name: threading.Event() for name in ("same", "other")}

    def take(instrument: str, name: str) -> None:
        with book_lock(b.exchange_writes, instrument):
            entered[name].set()

    try:
        with book_lock(a.exchange_writes, "ENERGY-2025-GD"):
            other = threading.Thread(target=take, args=("NOX-2025-SHENZHEN", "other"))
            other.start()
            assert entered["other"].wait(10)  # another book: no waiting
            same = threading.Thread(target=take, args=("ENERGY-2025-GD", "same"))
            same.start()
            same.join(0.5)
            assert not entered["same"].is_set()  # same book, other process: it waits
        same.join(10)
        assert entered["same"].is_set()  # released with the block
    finally:
        a.close()
        b.close()


def test_two_processes_trading_one_book_lose_nothing(shared: dict[str, str]) -> None:
    env = shared
    manifest = seed(env, traders=4)
    code = MARKETS[0].instrument
    workers = [build_registry(env), build_registry(env)]
    acked: list[tuple[str, str]] = []
    guard = threading.Lock()

    def trade(n: int) -> None:
        rng = random.Random(n)
        app = workers[n % 2]
        for k in range(15):
            batch = []
            for j in range(5):
                side = rng.choice("BS")
                price = MARKETS[0].reference_price + rng.randint(-5, 5) * MARKETS[0].tick
                batch.append(Order(f"w{n}-{k}-{j}", rng.choice(manifest.traders), side, "L",
                                   price, rng.randint(1, 5) * 1000, f"desk-{n}"))
            outcomes = app.exchange.submit_orders(instrument=code, requests=batch, at=AT)
            with guard:
                acked.extend((code, o.order_id) for o in outcomes if o.status != "rejected")

    report = trade_then_check(env, manifest, workers, trade, threads=4, acked=acked)
    assert len(acked) == 4 * 15 * 5
    assert report.ok, report.failed


def test_two_processes_trading_different_books_never_conflict(
        shared: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """The same firms on every book: under the exchange lock no batch's save ever conflicts
    with the other process's batches on the firms' cash accounts."""
    env = shared
    manifest = seed(env, traders=4)
    conflicts: list[int] = []
    drop_all = ExchangeWriter.drop_all

    def counted(self: ExchangeWriter) -> None:
        conflicts.append(1)
        drop_all(self)

    monkeypatch.setattr(ExchangeWriter, "drop_all", counted)
    workers = [build_registry(env), build_registry(env)]
    acked: list[tuple[str, str]] = []
    guard = threading.Lock()

    def trade(n: int) -> None:
        rng = random.Random(n)
        app, market = workers[n % 2], MARKETS[n % len(MARKETS)]
        for k in range(10):
            batch = [Order(f"x{n}-{k}-{j}", rng.choice(manifest.traders), rng.choice("BS"), "L",
                           market.reference_price + rng.randint(-5, 5) * market.tick,
                           rng.randint(1, 5) * 1000, f"desk-{n}") for j in range(5)]
            outcomes = app.exchange.submit_orders(instrument=market.instrument, requests=batch,
                                                  at=AT)
            with guard:
                acked.extend((market.instrument, o.order_id) for o in outcomes
                             if o.status != "rejected")

    report = trade_then_check(env, manifest, workers, trade, threads=2 * len(MARKETS),
                              acked=acked)
    assert acked
    assert report.ok, report.failed
    assert conflicts == []

"""Concurrent callers through the order gateway: one save per batch, of every market, and every
caller answered."""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path

from domain.errors import NotFound
from domain.exchange.orders import Order, Outcome
from registry.bootstrap import Registry, build_registry
from registry.order_gateway import OrderGateway
from registry.storage import committed_saves
from tests.integration.test_exchange_journeys import COD, NOX, PRICE, check_books, exchange_world
from tests.support.world import AT, World


def _exchange(tmp_path: Path) -> tuple[Registry, World, OrderGateway]:
    """A SQLite registry with two open markets, and a gateway in front of it."""
    app = build_registry({"REGISTRY_DATA_DIR": str(tmp_path)})
    gateway = OrderGateway(app.exchange.submit_order_batches, clock=lambda: AT, max_batch=64,
                           max_wait=0.005)
    return app, exchange_world(app), gateway


def test_concurrent_single_orders_are_batched_and_each_caller_gets_its_outcome(
    tmp_path: Path,
) -> None:
    app, w, gateway = _exchange(tmp_path)
    results: dict[str, Outcome] = {}
    errors: list[BaseException] = []

    def trader(name: str, account: str, side: str) -> None:
        try:
            for n in range(40):
                oid = f"{name}-{n}"
                price = PRICE + (n % 5 - 2) * 1_000
                results[oid] = gateway.submit(COD, Order(oid, account, side, "L", price, 1_000,
                                                         name))
        except BaseException as exc:
            errors.append(exc)

    # dyeing holds 100 t of COD and paper 1M CNY: every order can be covered
    threads = [threading.Thread(target=trader, args=args) for args in (
        ("s1", w.dyeing, "S"), ("b1", w.paper, "B"), ("s2", w.dyeing, "S"),
        ("b2", w.paper, "B"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(results) == 160
    assert all(o.order_id == oid and o.status == "accepted" for oid, o in results.items())
    assert gateway.batches < 160  # callers shared saves
    assert app.exchange.market(COD).batches == gateway.batches
    # each fill is reported to its taker: together they are everything paper bought
    traded = sum(f[2] for o in results.values() for f in o.fills)
    assert traded == app.instrument(COD).balances().get(w.paper, {}).get("available", 0)
    check_books(app)
    app.close()


def test_a_failed_batch_is_reported_to_every_caller_in_it() -> None:
    def broken(**_: object) -> list[Outcome]:
        raise OSError("disk full")

    gateway = OrderGateway(broken, clock=lambda: AT, max_wait=0.0)
    try:
        gateway.submit(COD, Order("x", "a", "B", "L", 1, 1, "u"))
    except OSError as exc:
        assert "disk full" in str(exc)
    else:
        raise AssertionError("the failure was swallowed")


def test_an_answer_missing_a_market_fails_its_callers_instead_of_leaving_them_waiting() -> None:
    def forgetful(**_: object) -> dict[str, list[Outcome]]:
        return {}  # no entry for the market asked about

    gateway = OrderGateway(forgetful, clock=lambda: AT, max_wait=0.2)  # both in one batch
    done: list[BaseException] = []

    def caller(n: int) -> None:
        try:
            gateway.submit(COD, Order(f"x{n}", "a", "B", "L", 1, 1, "u"))
        except KeyError as exc:
            done.append(exc)

    threads = [threading.Thread(target=caller, args=(n,), daemon=True) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert not any(t.is_alive() for t in threads) and len(done) == 2


def test_orders_of_several_markets_share_saves_and_an_unknown_market_fails_alone(
    tmp_path: Path,
) -> None:
    app, w, gateway = _exchange(tmp_path)
    results: dict[str, Outcome] = {}
    refused: list[BaseException] = []
    errors: list[BaseException] = []

    def trader(name: str, code: str, account: str, side: str) -> None:
        try:
            for n in range(30):
                oid = f"{name}-{n}"
                results[oid] = gateway.submit(code, Order(oid, account, side, "L", PRICE, 1_000,
                                                          name))
        except BaseException as exc:
            errors.append(exc)

    def stray() -> None:
        for n in range(10):
            try:
                gateway.submit("SO2-2025-NOWHERE", Order(f"x{n}", w.paper, "B", "L", PRICE,
                                                         1_000, "x"))
            except NotFound as exc:
                refused.append(exc)

    threads = [threading.Thread(target=trader, args=args) for args in (
        ("cs", COD, w.dyeing, "S"), ("cb", COD, w.paper, "B"),
        ("ns", NOX, w.electronics, "S"), ("nb", NOX, w.power, "B"))]
    threads.append(threading.Thread(target=stray))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(refused) == 10  # each stray caller told, nobody else
    assert len(results) == 120 and all(o.status == "accepted" for o in results.values())
    market_batches = app.exchange.market(COD).batches + app.exchange.market(NOX).batches
    assert gateway.batches < market_batches  # saves held the batches of both markets
    check_books(app)
    app.close()


def test_every_caller_of_a_committed_save_is_told_its_write_went_in() -> None:
    """The batch's save runs in its leader's thread, whose request alone the store marks as
    having committed; each other caller whose request went in is marked too, so a storage
    failure later in its own request is answered outcome-unknown, not "nothing stored". A
    caller whose requests were all refused is not marked."""
    arrived = threading.Barrier(3)
    leaders: list[str] = []

    def save(*, batches: dict[str, list[Order]], at: str) -> dict[str, list[Outcome]]:
        leaders.append(threading.current_thread().name)
        saves = committed_saves.get()
        if saves is not None:
            saves.append(1)  # as the store marks the request whose thread committed
        return {code: [Outcome(r.order_id, "accepted", [], 1) if r.account != "refused" else
                       Outcome(r.order_id, "rejected", [], 0, exception=NotFound("no account"))
                       for r in requests] for code, requests in batches.items()}

    gateway = OrderGateway(save, clock=lambda: AT, max_batch=3, max_wait=5.0)
    marked: dict[str, list[int]] = {}

    def caller(name: str) -> None:
        saves: list[int] = []
        committed_saves.set(saves)  # this thread's request
        arrived.wait()
        with contextlib.suppress(NotFound):  # the refused caller is told so
            gateway.submit(COD, Order(name, name, "B", "L", 1, 1, "u"))
        marked[name] = saves

    threads = [threading.Thread(target=caller, args=(name,), name=name)
               for name in ("first", "second", "refused")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert gateway.batches == 1  # the three in one save, led by one of them
    assert marked["first"] and marked["second"]
    assert marked["refused"] == ([1] if leaders == ["refused"] else [])  # only if it led

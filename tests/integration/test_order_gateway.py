"""Concurrent callers through the order gateway: one save per batch, of every market, and every
caller answered."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from pathlib import Path

import pytest

from domain.errors import NotFound
from domain.exchange.orders import Order, Outcome
from registry.acting import acting
from registry.bootstrap import Registry, build_registry
from registry.events import stored_events
from registry.order_gateway import GATEWAY_ACTOR, OrderGateway
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
    """The batch's save runs in the gateway's writer thread, outside every request, so the
    store marks none of them as having committed; each caller whose request went in is
    marked in its own request, so a storage failure later in it is answered
    outcome-unknown, not "nothing stored". A caller whose requests were all refused is not
    marked."""
    arrived = threading.Barrier(3)
    writers: list[str] = []

    def save(*, batches: dict[str, list[Order]], at: str) -> dict[str, list[Outcome]]:
        writers.append(threading.current_thread().name)
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
    gateway.close()
    assert gateway.batches == 1 and writers == ["order-gateway"]  # one save, by the writer
    assert marked == {"first": [1], "second": [1], "refused": []}


def test_a_batch_of_several_users_orders_is_the_gateways_act(tmp_path: Path) -> None:
    """Whoever's request arrives first, the batch's events name the gateway as their actor,
    and each request in them the user who entered it."""
    app, w, gateway = _exchange(tmp_path)
    arrived = threading.Barrier(2)

    def trader(user: str, account: str, side: str) -> None:
        with acting(user):  # the user's request, as the API binds it
            arrived.wait()
            gateway.submit(COD, Order(f"{user}-1", account, side, "L", PRICE, 1_000, user))

    gateway.max_wait = 0.5  # both in one batch
    threads = [threading.Thread(target=trader, args=args) for args in (
        ("u-seller", w.dyeing, "S"), ("u-buyer", w.paper, "B"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    gateway.close()
    batches = [e for _, e in stored_events(app) if type(e).__name__ == "BatchMatched"
               and e.ops and e.ops[0][1].startswith("u-")]
    assert len(batches) == 1 and batches[0].actor == GATEWAY_ACTOR
    assert sorted(op[7] for op in batches[0].ops) == ["u-buyer", "u-seller"]
    assert batches[0].trades  # they crossed: the settlement is the gateway's act too
    assert not [e for _, e in stored_events(app)
                if getattr(e, "actor", None) in ("u-seller", "u-buyer")]
    app.close()


def test_coroutines_wait_on_their_loop_and_share_one_save() -> None:
    def save(*, batches: dict[str, list[Order]], at: str) -> dict[str, list[Outcome]]:
        return {code: [Outcome(r.order_id, "accepted", [], r.qty) for r in requests]
                for code, requests in batches.items()}

    gateway = OrderGateway(save, clock=lambda: AT, max_batch=20, max_wait=5.0)

    async def orders() -> list[Outcome]:
        return list(await asyncio.gather(*(
            gateway.submit_async(COD, Order(f"a{n}", "acct", "B", "L", 1, n + 1, "u"))
            for n in range(20))))

    outcomes = asyncio.run(orders())
    gateway.close()
    assert [(o.order_id, o.resting) for o in outcomes] == [(f"a{n}", n + 1) for n in range(20)]
    assert gateway.batches == 1  # twenty coroutines, one save (the batch was full)


def test_a_failed_save_is_raised_in_every_coroutine_of_its_batch() -> None:
    def broken(**_: object) -> dict[str, list[Outcome]]:
        raise OSError("disk full")

    gateway = OrderGateway(broken, clock=lambda: AT, max_batch=2, max_wait=5.0)

    async def both() -> list[BaseException | Outcome]:
        return list(await asyncio.gather(*(
            gateway.submit_async(COD, Order(f"x{n}", "a", "B", "L", 1, 1, "u"))
            for n in range(2)), return_exceptions=True))

    results = asyncio.run(both())
    gateway.close()
    assert [str(r) for r in results] == ["disk full", "disk full"]


def test_close_writes_what_is_queued_then_refuses_new_requests() -> None:
    written: list[str] = []

    def save(*, batches: dict[str, list[Order]], at: str) -> dict[str, list[Outcome]]:
        written.extend(r.order_id for rs in batches.values() for r in rs)
        return {code: [Outcome(r.order_id, "accepted", [], 1) for r in requests]
                for code, requests in batches.items()}

    gateway = OrderGateway(save, clock=lambda: AT, max_wait=10.0)  # would wait long for company
    caller = threading.Thread(
        target=lambda: gateway.submit(COD, Order("q1", "a", "B", "L", 1, 1, "u")))
    caller.start()
    while not gateway._pending and not written:
        time.sleep(0.001)
    gateway.close()  # no need to wait the ten seconds: closing writes it now
    caller.join(5)
    assert written == ["q1"] and not caller.is_alive()
    with pytest.raises(RuntimeError, match="closed"):
        gateway.submit(COD, Order("q2", "a", "B", "L", 1, 1, "u"))

"""Several markets' batches in one save (`submit_order_batches`), once per backend: one
transaction, each market matched on what the previous ones reserved and posted, an unknown
market refused alone, and the stored result equal to the same batches written one by one."""

from __future__ import annotations

from typing import Any

import pytest

from domain.errors import NotFound
from domain.exchange.orders import Order
from tests.conftest import Factory
from tests.integration.test_exchange_journeys import (
    COD,
    NOX,
    PRICE,
    check_books,
    exchange_world,
)
from tests.support.world import AT


def _count_saves(app: Any, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    saves: list[int] = []
    save = type(app).save

    def counted(self: Any, *aggregates: Any, **kwargs: Any) -> Any:
        saves.append(len(aggregates))
        return save(self, *aggregates, **kwargs)

    monkeypatch.setattr(type(app), "save", counted)
    return saves


def test_every_markets_batch_is_stored_in_one_save(factory: Factory,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    app = factory()
    w = exchange_world(app)
    before = app.queries.position()
    saves = _count_saves(app, monkeypatch)
    results = app.exchange.submit_order_batches(at=AT, batches={
        COD: [Order("c-s", w.dyeing, "S", "L", PRICE, 10_000, "d"),
              Order("c-b", w.paper, "B", "L", PRICE, 10_000, "p")],
        NOX: [Order("n-s", w.electronics, "S", "L", PRICE, 5_000, "e"),
              Order("n-b", w.power, "B", "L", PRICE, 5_000, "w")],
    })
    assert len(saves) == 1  # one transaction for both markets
    for code in (COD, NOX):
        outcomes = results[code]
        assert not isinstance(outcomes, BaseException)
        assert [o.status for o in outcomes] == ["accepted", "accepted"]
        assert sum(f[2] for f in outcomes[1].fills) == (10_000 if code == COD else 5_000)
        assert app.exchange.market(code).batches == 1
    # per market: its BatchMatched and its BatchSettled
    topics = [n.topic for n in app.recorder.select_notifications(before + 1, 100)]
    assert sum("BatchMatched" in t for t in topics) == 2
    assert sum("BatchSettled" in t for t in topics) == 2
    for buyer, paid in ((w.paper, 8_000_000), (w.power, 4_000_000)):  # settled or pending
        a = app.exchange.cash_account(buyer)
        assert a.balance - a.reserved == 100_000_000 - paid
    check_books(app)


def test_a_later_market_sees_what_an_earlier_one_reserved(factory: Factory) -> None:
    """Dyeing (Shenzhen, Maozhou basin) has 1M CNY. Bidding for 100 t of COD at 8,000 CNY/t
    reserves 800k; its NOX bid in the same batch, checked after it, cannot be covered."""
    app = factory()
    w = exchange_world(app)
    results = app.exchange.submit_order_batches(at=AT, batches={
        NOX: [Order("n-b", w.dyeing, "B", "L", PRICE, 100_000, "d")],
        COD: [Order("c-b", w.dyeing, "B", "L", PRICE, 100_000, "d")],
    })
    cod, nox = results[COD], results[NOX]
    assert not isinstance(cod, BaseException) and not isinstance(nox, BaseException)
    assert cod[0].status == "accepted" and cod[0].resting == 100_000  # COD sorts first
    assert nox[0].error == "InsufficientFunds"
    assert app.exchange.cash_account(w.dyeing).reserved == 80_000_000
    check_books(app)


def test_an_unknown_market_is_refused_alone(factory: Factory) -> None:
    app = factory()
    w = exchange_world(app)
    results = app.exchange.submit_order_batches(at=AT, batches={
        "SO2-2025-NOWHERE": [Order("x", w.paper, "B", "L", PRICE, 1_000, "p")],
        COD: [Order("c-b", w.paper, "B", "L", PRICE, 1_000, "p")],
    })
    assert isinstance(results["SO2-2025-NOWHERE"], NotFound)
    cod = results[COD]
    assert not isinstance(cod, BaseException) and cod[0].status == "accepted"
    assert app.exchange.market(COD).orders  # stored, resting
    with pytest.raises(NotFound):  # the one-market form raises it
        app.exchange.submit_orders(instrument="SO2-2025-NOWHERE", at=AT, requests=[])


def test_one_save_stores_what_market_by_market_saves_store(factory: Factory) -> None:
    """The same requests, once in one save and once market by market on a second world,
    leave the same books, holdings and cash."""
    def requests(w: Any) -> dict[str, list[Order]]:
        out: dict[str, list[Order]] = {COD: [], NOX: []}
        for n in range(12):
            out[COD].append(Order(f"c{n}", w.dyeing if n % 2 else w.paper, "S" if n % 2 else "B",
                                  "L", PRICE + (n % 3 - 1) * 1_000, 2_000 + 1_000 * (n % 4),
                                  "u"))
            out[NOX].append(Order(f"n{n}", w.electronics if n % 2 else w.power,
                                  "S" if n % 2 else "B", "L", PRICE + (n % 3 - 1) * 1_000,
                                  1_000 + 1_000 * (n % 3), "u"))
        return out

    from registry.bootstrap import build_registry

    one = factory()
    w = exchange_world(one)
    one.exchange.submit_order_batches(at=AT, batches=requests(w))
    each = build_registry({"REGISTRY_STORE": "memory"})
    exchange_world(each)
    for code, batch in requests(w).items():
        each.exchange.submit_orders(instrument=code, at=AT, requests=batch)
    for code in (COD, NOX):
        assert one.exchange.market(code).book == each.exchange.market(code).book
        assert one.instrument(code).balances() == each.instrument(code).balances()
    for who in (w.dyeing, w.paper, w.electronics, w.power):
        a, b = one.exchange.cash_account(who), each.exchange.cash_account(who)
        assert (a.balance, a.reserved) == (b.balance, b.reserved)
    check_books(one)

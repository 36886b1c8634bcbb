"""A market changes only through its events: deciding a batch leaves it as it was, and the
``BatchMatched`` event, applied at command time as on replay, makes the change."""

from __future__ import annotations

from typing import Any

import pytest

from domain.exchange.desk import Desk
from domain.exchange.market import Market, MatchingDiverged
from domain.exchange.orders import Cancel, Order
from registry.bootstrap import Registry
from registry.replay import comparable
from tests.integration.test_exchange_journeys import COD, PRICE, Factory, exchange_world
from tests.support.world import AT


def desk_for(app: Registry, m: Market) -> Desk:
    return Desk(kind=m.kind, zone=m.zone, rules=app.rules_for(app.instrument(COD)),
                traders=app.enterprise, accounts=app.exchange.cash_account,
                positions=lambda code: [10**9, 10**9])


def state(m: Market) -> dict[str, Any]:
    return {"book": m.book.snapshot(), "orders": dict(m.orders), "seen": set(m.seen),
            "batches": m.batches, "trades": m.trade_count, "version": m.version}


@pytest.fixture
def market(factory: Factory) -> tuple[Registry, Any]:
    app = factory()
    w = exchange_world(app)
    app.exchange.submit_orders(instrument=COD, at=AT, requests=[
        Order("s1", w.dyeing, "S", "L", PRICE, 3_000, "d"),
        Order("s2", w.dyeing, "S", "L", PRICE + 1_000, 3_000, "d"),
        Order("b0", w.paper, "B", "L", PRICE - 1_000, 2_000, "p")])
    return app, w


def test_a_batch_failing_midway_leaves_the_market_as_it_was(market: tuple[Registry, Any],
                                                            monkeypatch) -> None:
    app, w = market
    m = app.exchange.market(COD)
    before = state(m)
    desk = desk_for(app, m)
    calls = []

    def trade_then_fail(*args: Any, **kwargs: Any) -> list[str]:
        calls.append(args)
        if len(calls) == 2:
            raise RuntimeError("injected: the desk fails on the second fill")
        return []

    monkeypatch.setattr(desk, "trade", trade_then_fail)
    with pytest.raises(RuntimeError, match="injected"):
        m.match([Cancel("b0", w.paper, "p"),
                 Order("b1", w.paper, "B", "L", PRICE + 1_000, 6_000, "p")], desk=desk, at=AT)
    assert len(calls) == 2  # the batch cancelled, filled once and failed on the next fill
    assert state(m) == before and not m.pending_events


def test_the_batch_event_makes_the_change_the_decision_described(
        market: tuple[Registry, Any]) -> None:
    app, w = market
    m = app.exchange.market(COD)
    desk = desk_for(app, m)
    outcomes = m.match([Cancel("b0", w.paper, "p"),
                        Order("b1", w.paper, "B", "L", PRICE + 1_000, 4_000, "p")],
                       desk=desk, at=AT)
    assert [o.status for o in outcomes] == ["cancelled", "accepted"]
    assert [f[2] for f in outcomes[1].fills] == [3_000, 1_000]
    (event,) = m.pending_events
    assert type(event).__name__ == "BatchMatched"
    assert set(m.orders) == {"s2"} and m.orders["s2"].remaining == 2_000
    rebuilt = app.exchange.market(COD)  # the stored market, then the same event applied to it
    event.mutate(rebuilt)
    assert comparable(rebuilt) == comparable(m)
    assert rebuilt.book == m.book


def test_a_recorded_outcome_the_book_cannot_take_is_refused(
        market: tuple[Registry, Any]) -> None:
    app, w = market
    m = app.exchange.market(COD)
    m.match([Order("b1", w.paper, "B", "L", PRICE, 1_000, "p")], desk=desk_for(app, m), at=AT)
    (event,) = m.pending_events
    stored = app.exchange.market(COD)
    stored.orders.pop("s1")  # the maker the recorded fill names is not there
    stored.book.cancel("s1")
    with pytest.raises(MatchingDiverged):
        event.mutate(stored)

"""Positions the market writer carries between batches follow every change of the units:
approvals through the same writer, expiry, and commands outside the exchange."""

from __future__ import annotations

from domain.exchange.market import pool_ref
from domain.exchange.orders import Cancel, Order
from tests.integration.test_exchange_journeys import COD, PRICE, Factory, exchange_world
from tests.support.world import AT

LAST_VALID_DAY = "2030-12-31T10:00:00+08:00"  # 2025 vintage: valid five years after the year
EXPIRED = "2031-01-02T10:00:00+08:00"


def carried_equal_fresh(app, code: str) -> bool:
    cache = app.exchange_writes.writer().positions(code)
    i = cache._instrument
    if i is None or i.version != cache._version:
        return True  # nothing carried
    fresh = app.instrument(code)
    return all(p == fresh.exchange_position(o, pool=pool_ref(code), on=cache._on)
               for o, p in cache._values.items())


def test_units_bought_through_an_approval_can_be_sold_in_the_next_batch(factory: Factory):
    app = factory()
    w = exchange_world(app, verify_above=0)
    [refused] = app.exchange.submit_orders(instrument=COD, at=AT, requests=[
        Order("p0", w.paper, "S", "L", PRICE, 1_000, "p")])
    assert refused.error == "InsufficientHoldings"
    app.exchange.submit_orders(instrument=COD, at=AT, requests=[
        Order("s1", w.dyeing, "S", "L", PRICE, 10_000, "d"),
        Order("b1", w.paper, "B", "L", PRICE, 10_000, "p"),
    ])
    [queued] = app.exchange.verification_queue()
    app.exchange.approve_trade(instrument=COD, trade_id=queued["trade"], administrator="admin-9",
                               at=AT)
    [resold] = app.exchange.submit_orders(instrument=COD, at=AT, requests=[
        Order("p1", w.paper, "S", "L", PRICE, 10_000, "p")])
    assert resold.status == "accepted", resold.message
    assert carried_equal_fresh(app, COD)


def test_releasing_expired_units_does_not_make_them_usable(factory: Factory):
    app = factory()
    w = exchange_world(app)
    app.exchange.submit_orders(instrument=COD, at=LAST_VALID_DAY, requests=[
        Order("s1", w.dyeing, "S", "L", PRICE, 5_000, "d")])
    [refused] = app.exchange.submit_orders(instrument=COD, at=EXPIRED, requests=[
        Order("s2", w.dyeing, "S", "L", PRICE, 1_000, "d")])
    assert refused.error == "InsufficientHoldings"
    [cancelled] = app.exchange.submit_orders(instrument=COD, at=EXPIRED, requests=[
        Cancel("s1", w.dyeing, "d")])
    assert cancelled.status == "cancelled"
    assert carried_equal_fresh(app, COD)
    [again] = app.exchange.submit_orders(instrument=COD, at=EXPIRED, requests=[
        Order("s3", w.dyeing, "S", "L", PRICE, 1_000, "d")])
    assert again.error == "InsufficientHoldings"


def test_a_freeze_outside_the_exchange_limits_the_next_sell_order(factory: Factory):
    app = factory()
    w = exchange_world(app)
    app.exchange.submit_orders(instrument=COD, at=AT, requests=[
        Order("s1", w.dyeing, "S", "L", PRICE, 10_000, "d")])
    app.holdings.freeze(instrument=COD, owner=w.dyeing, ref="F-1", reason="spot check", at=AT)
    [refused] = app.exchange.submit_orders(instrument=COD, at=AT, requests=[
        Order("s2", w.dyeing, "S", "L", PRICE, 1_000, "d")])
    assert refused.error == "InsufficientHoldings"
    assert carried_equal_fresh(app, COD)

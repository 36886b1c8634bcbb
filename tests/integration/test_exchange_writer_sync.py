"""The market writer brings its cached aggregates up to date with another writer's events by
applying them to the cached copies: the result equals a reload from the store, a copy whose
events arrive with a gap is reloaded instead, and carried positions start afresh."""

from __future__ import annotations

from typing import Any

import pytest

from domain.exchange.market import Market
from domain.exchange.orders import Cancel, Order
from registry.replay import comparable
from tests.integration.test_exchange_journeys import (
    COD,
    PRICE,
    Factory,
    check_books,
    exchange_world,
)
from tests.integration.test_exchange_positions import carried_equal_fresh
from tests.support.world import AT


@pytest.fixture
def two_writers(factory: Factory) -> tuple[Any, Any, Any]:
    """Two registries on one store (two processes), both having traded on COD."""
    a = factory()
    w = exchange_world(a)
    b = factory()
    if b is a:
        pytest.skip("the in-memory store has a single process")
    a.exchange.submit_orders(instrument=COD, at=AT, requests=[
        Order("a1", w.dyeing, "S", "L", PRICE, 10_000, "d"),
        Order("a2", w.paper, "B", "L", PRICE - 1_000, 4_000, "p")])
    b.exchange.submit_orders(instrument=COD, at=AT, requests=[
        Order("b1", w.paper, "B", "L", PRICE, 3_000, "p"),
        Order("b2", w.dyeing, "S", "L", PRICE - 1_000, 1_000, "d"),
        Cancel("a2", w.paper, "p")])
    return a, b, w


def test_another_writers_batch_applied_to_the_cache_equals_a_reload(two_writers) -> None:
    a, _, w = two_writers
    writer = a.exchange_writes.writer()
    market_id = Market.create_id(COD)
    cached_market = writer.cache[market_id]
    stale = {k: agg.version for k, agg in writer.cache.items()}
    writer.sync()
    assert writer.cache[market_id] is cached_market  # applied, not evicted
    assert cached_market.version == stale[market_id] + 1
    for key, agg in writer.cache.items():
        assert comparable(agg) == comparable(a.repository.get(key)), type(agg).__name__
    # the next batch runs on the updated copies and positions are read afresh
    [sold] = a.exchange.submit_orders(instrument=COD, at=AT, requests=[
        Order("a3", w.dyeing, "S", "L", PRICE, 2_000, "d")])
    assert sold.status == "accepted", sold.message
    assert carried_equal_fresh(a, COD)
    assert writer.cache[market_id].book == a.exchange.market(COD).book
    check_books(a)


def test_a_cached_copy_missing_events_is_reloaded_not_patched(two_writers) -> None:
    a, b, w = two_writers
    writer = a.exchange_writes.writer()
    market_id = Market.create_id(COD)
    writer.sync()
    writer.cache[market_id] = a.repository.get(market_id, version=1)  # two batches behind
    b.exchange.submit_orders(instrument=COD, at=AT, requests=[
        Order("b3", w.dyeing, "S", "L", PRICE + 1_000, 1_000, "d")])
    writer.sync()
    assert market_id not in writer.cache
    [bought] = a.exchange.submit_orders(instrument=COD, at=AT, requests=[
        Order("a4", w.paper, "B", "L", PRICE, 1_000, "p")])
    assert bought.status == "accepted", bought.message
    assert a.exchange.market(COD).book == writer.cache[market_id].book
    check_books(a)

"""Matching behaviours of the order book: priority, fills, market orders, cancels, STP, views."""

from __future__ import annotations

import gc
import json

from domain.matching import Depth, DepthLevel, OrderBook, RestingOrder


def book_with_asks(*asks: tuple[int, int, int, str]) -> OrderBook:
    """A book holding sell limit orders given as (price, qty, id, account)."""
    book = OrderBook()
    for price, qty, order_id, account in asks:
        assert book.submit("S", price, qty, order_id, "L", account) == []
    return book


def test_limit_order_rests_when_nothing_crosses() -> None:
    book = OrderBook()
    assert book.submit("B", 99, 10, 1, "L", "acme") == []
    assert book.submit("S", 101, 5, 2, "L", "bolt") == []
    assert (book.best_bid(), book.best_ask()) == (99, 101)
    assert len(book) == 2


def test_fill_trades_at_resting_price() -> None:
    book = book_with_asks((100, 10, 1, "seller"))
    assert book.submit("B", 105, 10, 2, "L", "buyer") == [(2, 1, 100, 10)]
    sell_book = OrderBook()
    sell_book.submit("B", 100, 10, 1, "L", "buyer")
    assert sell_book.submit("S", 95, 10, 2, "L", "seller") == [(2, 1, 100, 10)]


def test_best_price_fills_first() -> None:
    book = book_with_asks((102, 5, 1, "a"), (100, 5, 2, "b"), (101, 5, 3, "c"))
    assert book.submit("B", 102, 12, 9, "L", "x") == [
        (9, 2, 100, 5),
        (9, 3, 101, 5),
        (9, 1, 102, 2),
    ]


def test_earlier_order_at_same_price_fills_first() -> None:
    book = book_with_asks((100, 5, 1, "a"), (100, 5, 2, "b"), (100, 5, 3, "c"))
    assert book.submit("B", 100, 7, 9, "L", "x") == [(9, 1, 100, 5), (9, 2, 100, 2)]


def test_partial_fill_keeps_remainder_resting_with_its_priority() -> None:
    book = book_with_asks((100, 10, 1, "a"), (100, 10, 2, "b"))
    book.submit("B", 100, 4, 8, "L", "x")
    assert book.order(1) == RestingOrder(1, "S", 100, 6, "a")
    assert book.submit("B", 100, 8, 9, "L", "y") == [(9, 1, 100, 6), (9, 2, 100, 2)]


def test_incoming_limit_remainder_rests_at_its_price_after_sweeping() -> None:
    book = book_with_asks((100, 5, 1, "a"), (101, 5, 2, "b"), (103, 5, 3, "c"))
    fills = book.submit("B", 101, 20, 9, "L", "x")
    assert fills == [(9, 1, 100, 5), (9, 2, 101, 5)]
    assert book.order(9) == RestingOrder(9, "B", 101, 10, "x")
    assert (book.best_bid(), book.best_ask()) == (101, 103)


def test_limit_does_not_trade_through_its_price() -> None:
    book = book_with_asks((101, 5, 1, "a"))
    assert book.submit("B", 100, 5, 9, "L", "x") == []
    assert (book.best_bid(), book.best_ask()) == (100, 101)


def test_market_order_remainder_is_cancelled() -> None:
    book = book_with_asks((100, 5, 1, "a"), (105, 5, 2, "b"))
    assert book.submit("B", 0, 25, 9, "M", "x") == [(9, 1, 100, 5), (9, 2, 105, 5)]
    assert book.order(9) is None
    assert len(book) == 0
    assert book.best_bid() is None


def test_market_order_on_empty_book_does_nothing() -> None:
    book = OrderBook()
    assert book.submit("S", 0, 5, 1, "M", "x") == []
    assert book.snapshot() == OrderBook().snapshot()


def test_market_order_price_is_ignored() -> None:
    book = OrderBook(tick=5, reference_price=1000)
    book.submit("B", 1000, 5, 1, "L", "a")
    assert book.submit("S", 7, 5, 2, "M", "x") == [(2, 1, 1000, 5)]


def test_cancel_removes_resting_order() -> None:
    book = book_with_asks((100, 5, 1, "a"), (101, 5, 2, "b"))
    assert book.cancel(1) is True
    assert book.order(1) is None
    assert book.best_ask() == 101


def test_cancel_of_unknown_filled_or_cancelled_order_returns_false() -> None:
    book = book_with_asks((100, 5, 1, "a"), (100, 5, 2, "b"))
    book.submit("B", 100, 5, 3, "L", "x")
    assert book.cancel(1) is False  # filled
    assert book.cancel(42) is False  # never seen
    assert book.cancel(2) is True
    assert book.cancel(2) is False  # already cancelled
    assert book.cancel(3) is False  # market-like: fully filled, never rested


def test_cancelled_order_loses_its_place_and_is_skipped_by_matching() -> None:
    book = book_with_asks((100, 5, 1, "a"), (100, 5, 2, "b"), (100, 5, 3, "c"))
    book.cancel(2)
    assert book.submit("B", 100, 8, 9, "L", "x") == [(9, 1, 100, 5), (9, 3, 100, 3)]


def test_many_cancels_behind_the_queue_head_keep_time_priority() -> None:
    book = OrderBook()
    for order_id in range(200):
        book.submit("S", 100, 1, order_id, "L", f"s{order_id}")
    for order_id in range(1, 199):
        assert book.cancel(order_id)
    assert book.depth(1).asks == [DepthLevel(100, 2, 2)]
    assert book.submit("B", 100, 2, "x", "L", "buyer") == [("x", 0, 100, 1), ("x", 199, 100, 1)]


def test_self_trade_cancels_resting_order() -> None:
    book = book_with_asks((100, 5, 1, "acme"), (100, 5, 2, "bolt"))
    assert book.submit("B", 100, 5, 9, "L", "acme") == [(9, 2, 100, 5)]
    assert book.last_stp_cancels == [1]
    assert book.order(1) is None
    assert len(book) == 0


def test_self_trade_prevention_never_cuts_the_incoming_order() -> None:
    book = book_with_asks((100, 5, 1, "acme"))
    assert book.submit("B", 100, 8, 9, "L", "acme") == []
    assert book.last_stp_cancels == [1]
    assert book.order(9) == RestingOrder(9, "B", 100, 8, "acme")


def test_self_trade_cancels_are_reported_per_submit() -> None:
    book = book_with_asks((100, 5, 1, "acme"), (101, 5, 2, "acme"), (102, 5, 3, "bolt"))
    assert book.submit("B", 0, 7, 9, "M", "acme") == [(9, 3, 102, 5)]
    assert list(book.last_stp_cancels) == [1, 2]
    book.submit("S", 200, 1, 10, "L", "acme")
    assert list(book.last_stp_cancels) == []


def test_depth_reports_price_total_quantity_and_order_count_best_first() -> None:
    book = OrderBook()
    for order_id, (side, price, qty) in enumerate(
        [("B", 98, 4), ("B", 99, 1), ("B", 99, 2), ("S", 101, 7), ("S", 103, 1), ("S", 102, 3)]
    ):
        book.submit(side, price, qty, order_id, "L", "a")
    book.submit("B", 101, 2, "t", "L", "b")  # leaves 5 at 101
    assert book.depth(2) == Depth(
        bids=[DepthLevel(99, 3, 2), DepthLevel(98, 4, 1)],
        asks=[DepthLevel(101, 5, 1), DepthLevel(102, 3, 1)],
    )
    assert book.depth(0) == Depth([], [])


def test_order_lookup_reports_side_price_remaining_and_account() -> None:
    book = OrderBook()
    book.submit("B", 50, 9, "order-1", "L", "91350100M000100Y43")
    assert book.order("order-1") == RestingOrder("order-1", "B", 50, 9, "91350100M000100Y43")
    assert book.order("order-2") is None


def test_snapshot_round_trip_gives_an_equal_book() -> None:
    book = OrderBook(tick=5, reference_price=1000, min_lot=2, max_order=500)
    book.submit("B", 950, 10, 1, "L", "a")
    book.submit("B", 950, 20, 2, "L", "b")
    book.submit("S", 1005, 30, 3, "L", "c")
    book.submit("S", 0, 4, 4, "M", "d")
    book.cancel(2)
    restored = OrderBook.from_snapshot(json.loads(json.dumps(book.snapshot())))
    assert restored == book
    assert restored.snapshot() == book.snapshot()
    # and it behaves the same afterwards
    assert restored.submit("S", 950, 6, 5, "L", "e") == book.submit("S", 950, 6, 5, "L", "e")
    assert restored == book


def test_books_differ_when_time_priority_differs() -> None:
    first, second = OrderBook(), OrderBook()
    first.submit("B", 10, 1, 1, "L", "a")
    first.submit("B", 10, 1, 2, "L", "b")
    second.submit("B", 10, 1, 2, "L", "b")
    second.submit("B", 10, 1, 1, "L", "a")
    assert first != second


def test_books_differ_when_rules_differ() -> None:
    assert OrderBook() != OrderBook(tick=10)
    assert OrderBook() == OrderBook()


def test_applying_the_fills_and_remainder_of_a_submit_gives_the_submitted_book() -> None:
    asks = ((100, 5, 1, "a"), (100, 5, 2, "x"), (101, 5, 3, "b"), (103, 5, 4, "c"))
    submitted, applied = book_with_asks(*asks), book_with_asks(*asks)
    fills = submitted.submit("B", 101, 12, 9, "L", "x")
    assert fills == [(9, 1, 100, 5), (9, 3, 101, 5)] and submitted.last_stp_cancels == [2]
    for _, maker, price, qty in fills:
        assert applied.apply_fill(maker, price, qty)
    assert applied.cancel(2)
    assert applied.apply_rest("B", 101, 2, 9, "x")
    assert applied == submitted
    assert applied.submit("S", 101, 3, 10, "L", "d") == submitted.submit("S", 101, 3, 10, "L", "d")
    assert applied == submitted


def test_a_partial_applied_fill_keeps_the_makers_place() -> None:
    book = book_with_asks((100, 10, 1, "a"), (100, 10, 2, "b"))
    assert book.apply_fill(1, 100, 4)
    assert book.submit("B", 100, 8, 9, "L", "y") == [(9, 1, 100, 6), (9, 2, 100, 2)]


def test_an_outcome_the_book_cannot_take_changes_nothing() -> None:
    book = book_with_asks((100, 10, 1, "a"), (102, 10, 2, "b"))
    before = book.snapshot()
    assert not book.apply_fill(1, 101, 5)  # another price than the maker's
    assert not book.apply_fill(1, 100, 11)  # more than it has left
    assert not book.apply_fill(7, 100, 1)  # no such maker
    assert not book.apply_rest("B", 100, 5, 9, "x")  # would cross the ask at 100
    assert not book.apply_rest("S", 105, 5, 2, "x")  # the id already rests
    assert book.snapshot() == before


def test_a_cleared_copy_leaves_the_original_and_no_cycles_behind() -> None:
    book = book_with_asks((100, 10, 1, "a"), (100, 10, 2, "b"), (102, 5, 3, "c"))
    book.submit("B", 90, 5, 4, "L", "d")
    before = book.snapshot()
    draft = book.copy()
    draft.submit("B", 100, 12, 9, "L", "x")
    draft.cancel(3)
    draft.clear()
    assert len(draft) == 0 and draft.best_bid() is None and draft.best_ask() is None
    assert draft == OrderBook(rules=book.rules)
    assert book.snapshot() == before
    draft.submit("S", 101, 5, 7, "L", "e")  # a cleared book takes orders again
    assert draft.best_ask() == 101
    # freed by reference counting alone: the collector finds nothing left of it
    was_on = gc.isenabled()
    gc.disable()
    try:
        gc.collect()
        dropped = book.copy()
        del dropped
        assert gc.collect() > 0  # a full copy left as it is: levels and orders in cycles
        cleared = book.copy()
        cleared.clear()
        del cleared
        assert gc.collect() == 0
    finally:
        if was_on:
            gc.enable()

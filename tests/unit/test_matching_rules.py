"""Order-entry rules: tick, band, lot, maximum order, malformed orders and book configuration."""

from __future__ import annotations

import pytest

from domain.matching import (
    AboveMaximumOrder,
    BelowMinimumLot,
    BookRules,
    DuplicateOrderId,
    InvalidBookConfiguration,
    InvalidOrder,
    InvalidTick,
    OrderBook,
    OrderRejected,
    PriceOutsideBand,
    band_bounds,
)


def exchange_book() -> OrderBook:
    """Tick 5 fen, reference 10.00 CNY (band 900..1100), lots of 10 up to 1,000."""
    book = OrderBook(tick=5, reference_price=1000, min_lot=10, max_order=1000)
    book.submit("S", 1000, 10, "resting", "L", "a")
    return book


def test_default_book_has_integer_ticks_and_no_band() -> None:
    book = OrderBook()
    assert book.rules.band is None
    assert book.submit("B", 1, 1, 1, "L", "a") == []
    assert book.submit("S", 123_456_789, 1, 2, "L", "a") == []


def test_default_band_is_ten_percent_around_reference() -> None:
    assert OrderBook(reference_price=8000).rules.band == (7200, 8800)


def test_band_bounds_round_inwards_to_ticks() -> None:
    # 1005 * 0.9 = 904.5 -> ceil 905 -> up to tick 910; 1005 * 1.1 = 1105.5 -> 1105 -> 1100
    assert band_bounds(1005, 10, 10) == (910, 1100)
    assert band_bounds(1005, 10, 1) == (905, 1105)
    assert band_bounds(7, 50, 1) == (4, 10)  # 3.5 -> 4, 10.5 -> 10


def test_band_lower_bound_is_at_least_one_tick() -> None:
    assert band_bounds(3, 99, 1) == (1, 5)


@pytest.mark.parametrize("price", [900, 1100, 1000])
def test_price_on_band_edge_is_accepted(price: int) -> None:
    book = OrderBook(tick=5, reference_price=1000)
    assert book.submit("B", price, 1, 1, "L", "a") == []


@pytest.mark.parametrize("price", [895, 1105, 5])
def test_price_outside_band_rejected(price: int) -> None:
    book = exchange_book()
    before = book.snapshot()
    with pytest.raises(PriceOutsideBand):
        book.submit("B", price, 10, 1, "L", "b")
    assert book.snapshot() == before


def test_price_off_tick_rejected() -> None:
    book = exchange_book()
    with pytest.raises(InvalidTick):
        book.submit("B", 1002, 10, 1, "L", "b")
    assert book.order(1) is None


def test_quantity_below_minimum_lot_rejected() -> None:
    with pytest.raises(BelowMinimumLot):
        exchange_book().submit("B", 1000, 9, 1, "L", "b")


def test_quantity_above_maximum_order_rejected() -> None:
    with pytest.raises(AboveMaximumOrder):
        exchange_book().submit("B", 1000, 1001, 1, "M", "b")


def test_duplicate_order_id_of_resting_order_rejected_without_trading() -> None:
    book = exchange_book()
    with pytest.raises(DuplicateOrderId):
        book.submit("B", 1000, 10, "resting", "L", "b")
    assert book.order("resting") is not None


def test_id_of_a_filled_order_may_be_used_again() -> None:
    book = exchange_book()
    book.submit("B", 1000, 10, 1, "L", "b")
    assert book.submit("B", 1000, 10, "resting", "L", "b") == []


@pytest.mark.parametrize(
    ("side", "price", "qty", "kind"),
    [
        ("X", 1000, 10, "L"),
        ("B", 1000, 10, "IOC"),
        ("B", 1000.0, 10, "L"),
        ("B", 1000, 10.0, "L"),
        ("B", 1000, True, "L"),
        ("B", True, 10, "L"),
        ("B", 1000, 0, "L"),
        ("B", 1000, -10, "M"),
        ("B", -5, 10, "L"),
        ("B", None, 10, "L"),
        (["B"], 1000, 10, "L"),
    ],
)
def test_malformed_order_rejected_as_invalid(
    side: object, price: object, qty: object, kind: object
) -> None:
    book = exchange_book()
    before = book.snapshot()
    with pytest.raises(InvalidOrder):
        book.submit(side, price, qty, 1, kind, "b")  # type: ignore[arg-type]
    assert book.snapshot() == before


def test_unhashable_order_id_rejected_as_invalid() -> None:
    book = exchange_book()
    with pytest.raises(InvalidOrder):
        book.submit("B", 1000, 10, ["id"], "L", "b")  # type: ignore[arg-type]
    assert book.cancel(["id"]) is False  # type: ignore[arg-type]


def test_price_above_largest_integer_rejected_without_band() -> None:
    with pytest.raises(InvalidOrder):
        OrderBook().submit("B", 2**63, 1, 1, "L", "a")


def test_rule_errors_share_one_base() -> None:
    for error in (
        PriceOutsideBand,
        InvalidTick,
        BelowMinimumLot,
        AboveMaximumOrder,
        DuplicateOrderId,
        InvalidOrder,
    ):
        assert issubclass(error, OrderRejected)


def test_tick_is_checked_before_band() -> None:
    with pytest.raises(InvalidTick):
        exchange_book().submit("B", 2001, 10, 1, "L", "b")


def test_new_reference_price_moves_the_band_and_keeps_orders() -> None:
    book = exchange_book()
    book.set_reference_price(2000)
    assert book.rules.band == (1800, 2200)
    assert book.order("resting") is not None
    assert book.submit("S", 2200, 10, 2, "L", "a") == []
    with pytest.raises(PriceOutsideBand):
        book.submit("S", 1100, 10, 3, "L", "a")
    book.set_reference_price(None)
    assert book.submit("S", 5, 10, 3, "L", "a") == []


@pytest.mark.parametrize(
    "settings",
    [
        {"tick": 0},
        {"tick": 1.5},
        {"min_lot": 0},
        {"min_lot": 10, "max_order": 5},
        {"band_pct": 100},
        {"band_pct": -1},
        {"reference_price": 0},
        {"reference_price": 1.5},
        {"reference_price": 100, "tick": 1000},
    ],
)
def test_invalid_configuration_rejected(settings: dict[str, object]) -> None:
    with pytest.raises(InvalidBookConfiguration):
        OrderBook(**settings)  # type: ignore[arg-type]


def test_rules_round_trip_through_a_plain_dict() -> None:
    rules = BookRules(tick=5, reference_price=1000, band_pct=7, min_lot=10, max_order=1000)
    assert BookRules.from_dict(rules.to_dict()) == rules

"""Order-entry rules of one book: tick size, daily price band, minimum lot, maximum order.

All arithmetic is on integers (prices in fen per tonne, quantities in the instrument's smallest
unit). The band around a reference price ``ref`` with ``pct`` percent is, with explicit rounding
that never widens it::

    lower = ceil(ref * (100 - pct) / 100), then rounded *up* to a multiple of the tick
    upper = floor(ref * (100 + pct) / 100), then rounded *down* to a multiple of the tick

and the lower bound is never below one tick (prices are positive). A limit price ``p`` is accepted
when ``lower <= p <= upper``. Without a reference price there is no band; prices and quantities
are then only limited to below 2**63 so every store and peer engine can hold them.

`check_order` states the order in which rules are checked, so a service (and the reference
matcher in the tests) reports the same error for the same bad order: side, kind, quantity type,
quantity > 0, minimum lot, maximum order; then, for limit orders only, price type, price > 0,
tick, band; finally (in the book) a duplicate order id.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeGuard

from domain.matching.errors import (
    AboveMaximumOrder,
    BelowMinimumLot,
    InvalidBookConfiguration,
    InvalidOrder,
    InvalidTick,
    PriceOutsideBand,
)

MAX_INT = 2**63 - 1
"""Largest price or quantity any book accepts (a signed 64-bit integer)."""

DEFAULT_BAND_PCT = 10
"""The national carbon market's listing rule: ±10% around the reference price."""


def band_bounds(reference_price: int, band_pct: int, tick: int) -> tuple[int, int]:
    """Return ``(lower, upper)`` of the band, rounded inwards to ticks as the module describes."""
    lower = -(-reference_price * (100 - band_pct) // 100)  # ceil of the exact fraction
    lower = -(-lower // tick) * tick  # up to a tick
    upper = reference_price * (100 + band_pct) // 100  # floor of the exact fraction
    upper = upper // tick * tick  # down to a tick
    return max(lower, tick), upper


def _is_int(value: object) -> TypeGuard[int]:
    return type(value) is int  # bool is an int subclass and is refused on purpose


@dataclass(frozen=True, slots=True)
class BookRules:
    """Immutable order-entry rules; `OrderBook` derives its fast-path bounds from them."""

    tick: int = 1
    reference_price: int | None = None
    band_pct: int = DEFAULT_BAND_PCT
    min_lot: int = 1
    max_order: int = MAX_INT

    def __post_init__(self) -> None:
        if not _is_int(self.tick) or not 1 <= self.tick <= MAX_INT:
            raise InvalidBookConfiguration(f"tick must be a positive integer, got {self.tick!r}")
        if not _is_int(self.min_lot) or not 1 <= self.min_lot <= MAX_INT:
            raise InvalidBookConfiguration(f"min_lot must be a positive integer: {self.min_lot!r}")
        if not _is_int(self.max_order) or not self.min_lot <= self.max_order <= MAX_INT:
            raise InvalidBookConfiguration(
                f"max_order must be an integer in [min_lot, 2**63-1]: {self.max_order!r}"
            )
        if not _is_int(self.band_pct) or not 0 <= self.band_pct < 100:
            raise InvalidBookConfiguration(f"band_pct must be in [0, 100): {self.band_pct!r}")
        ref = self.reference_price
        if ref is not None:
            if not _is_int(ref) or not 1 <= ref <= MAX_INT // 2:
                raise InvalidBookConfiguration(f"reference_price must be positive: {ref!r}")
            lower, upper = band_bounds(ref, self.band_pct, self.tick)
            if lower > upper:
                raise InvalidBookConfiguration(f"band around {ref} holds no tick of {self.tick}")

    @property
    def band(self) -> tuple[int, int] | None:
        """The day's ``(lower, upper)`` price band, or None when there is no reference price."""
        if self.reference_price is None:
            return None
        return band_bounds(self.reference_price, self.band_pct, self.tick)

    def price_bounds(self) -> tuple[int, int]:
        """Inclusive bounds a limit price must lie in (the band, or the integer range)."""
        band = self.band
        if band is not None:
            return band
        return self.tick, MAX_INT // self.tick * self.tick

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-ready form (used in book snapshots)."""
        return {
            "tick": self.tick,
            "reference_price": self.reference_price,
            "band_pct": self.band_pct,
            "min_lot": self.min_lot,
            "max_order": self.max_order,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BookRules:
        return cls(
            tick=data["tick"],
            reference_price=data["reference_price"],
            band_pct=data["band_pct"],
            min_lot=data["min_lot"],
            max_order=data["max_order"],
        )


def check_order(rules: BookRules, side: object, price: object, qty: object, kind: object) -> None:
    """Raise the `OrderRejected` for the first rule the order breaks (order: see module doc)."""
    if side not in ("B", "S"):  # a tuple: side may be unhashable
        raise InvalidOrder(f"side must be 'B' or 'S', got {side!r}")
    if kind not in ("L", "M"):
        raise InvalidOrder(f"kind must be 'L' (limit) or 'M' (market), got {kind!r}")
    if not _is_int(qty) or qty <= 0:
        raise InvalidOrder(f"quantity must be a positive integer, got {qty!r}")
    if qty < rules.min_lot:
        raise BelowMinimumLot(f"quantity {qty} is below the minimum lot {rules.min_lot}")
    if qty > rules.max_order:
        raise AboveMaximumOrder(f"quantity {qty} is above the maximum order {rules.max_order}")
    if kind == "M":
        return
    if not _is_int(price) or price <= 0:
        raise InvalidOrder(f"limit price must be a positive integer, got {price!r}")
    if price % rules.tick:
        raise InvalidTick(f"price {price} is not a multiple of the tick {rules.tick}")
    lower, upper = rules.price_bounds()
    if not lower <= price <= upper:
        if rules.reference_price is None:
            raise InvalidOrder(f"price {price} is above the largest price {upper}")
        raise PriceOutsideBand(f"price {price} is outside the band [{lower}, {upper}]")

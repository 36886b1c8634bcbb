"""A deliberately naive matcher with the rules `domain.matching.OrderBook` documents.

Written for obviousness, not speed: resting orders live in one list in arrival order, and each
step of matching scans it for the best eligible order. The band is computed with `Fraction`
and `math.ceil`/`math.floor` rather than integer tricks. The property tests run both matchers
on the same operations and demand identical fills, errors, STP cancels and snapshots.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from domain.matching.errors import (
    AboveMaximumOrder,
    BelowMinimumLot,
    DuplicateOrderId,
    InvalidOrder,
    InvalidTick,
    PriceOutsideBand,
)

LARGEST = 2**63 - 1


@dataclass
class _Resting:
    order_id: Any
    side: str
    price: int
    remaining: int
    account: Any


class ReferenceMatcher:
    def __init__(
        self,
        *,
        tick: int = 1,
        reference_price: int | None = None,
        band_pct: int = 10,
        min_lot: int = 1,
        max_order: int = LARGEST,
    ) -> None:
        self.tick = tick
        self.reference_price = reference_price
        self.band_pct = band_pct
        self.min_lot = min_lot
        self.max_order = max_order
        self.resting: list[_Resting] = []  # arrival order = time priority
        self.last_stp_cancels: list[Any] = []

    def band(self) -> tuple[int, int] | None:
        if self.reference_price is None:
            return None
        low = math.ceil(Fraction(self.reference_price * (100 - self.band_pct), 100))
        high = math.floor(Fraction(self.reference_price * (100 + self.band_pct), 100))
        low = math.ceil(Fraction(low, self.tick)) * self.tick
        high = math.floor(Fraction(high, self.tick)) * self.tick
        return max(low, self.tick), high

    def _check(self, side: Any, price: Any, qty: Any, order_id: Any, kind: Any) -> None:
        if side not in ("B", "S") or kind not in ("L", "M"):
            raise InvalidOrder(side, kind)
        if type(qty) is not int or qty <= 0:
            raise InvalidOrder(qty)
        if qty < self.min_lot:
            raise BelowMinimumLot(qty)
        if qty > self.max_order:
            raise AboveMaximumOrder(qty)
        if kind == "L":
            if type(price) is not int or price <= 0:
                raise InvalidOrder(price)
            if price % self.tick != 0:
                raise InvalidTick(price)
            band = self.band()
            if band is None:
                if price > LARGEST:
                    raise InvalidOrder(price)
            elif not band[0] <= price <= band[1]:
                raise PriceOutsideBand(price)
        if any(o.order_id == order_id for o in self.resting):
            raise DuplicateOrderId(order_id)

    def _crosses(self, side: str, kind: str, limit: int, resting: _Resting) -> bool:
        if resting.side == side:
            return False
        if kind == "M":
            return True
        return resting.price <= limit if side == "B" else resting.price >= limit

    def submit(
        self, side: Any, price: Any, qty: Any, order_id: Any, kind: Any, account: Any
    ) -> list[tuple[Any, Any, int, int]]:
        self._check(side, price, qty, order_id, kind)
        self.last_stp_cancels = []
        fills = []
        remaining = qty
        while remaining > 0:
            eligible = [o for o in self.resting if self._crosses(side, kind, price, o)]
            if not eligible:
                break
            # best price for the taker; ties go to the earliest arrival (lowest list index)
            best = min(
                eligible,
                key=lambda o: (o.price if side == "B" else -o.price, self.resting.index(o)),
            )
            if best.account == account:
                self.resting.remove(best)
                self.last_stp_cancels.append(best.order_id)
                continue
            traded = min(remaining, best.remaining)
            fills.append((order_id, best.order_id, best.price, traded))
            best.remaining -= traded
            remaining -= traded
            if best.remaining == 0:
                self.resting.remove(best)
        if remaining > 0 and kind == "L":
            self.resting.append(_Resting(order_id, side, price, remaining, account))
        return fills

    def cancel(self, order_id: Any) -> bool:
        for o in self.resting:
            if o.order_id == order_id:
                self.resting.remove(o)
                return True
        return False

    def snapshot(self) -> dict[str, Any]:
        """The same plain structure as `OrderBook.snapshot`, built by sorting."""
        sides: dict[str, list[list[Any]]] = {}
        for side, name in (("B", "bids"), ("S", "asks")):
            prices = sorted({o.price for o in self.resting if o.side == side}, reverse=side == "B")
            sides[name] = [
                [
                    price,
                    [
                        [o.order_id, o.remaining, o.account]
                        for o in self.resting
                        if o.side == side and o.price == price
                    ],
                ]
                for price in prices
            ]
        return {
            "rules": {
                "tick": self.tick,
                "reference_price": self.reference_price,
                "band_pct": self.band_pct,
                "min_lot": self.min_lot,
                "max_order": self.max_order,
            },
            **sides,
        }

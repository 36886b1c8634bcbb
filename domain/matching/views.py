"""Read-only values the order book hands out: fills, resting orders, depth."""

from __future__ import annotations

from typing import NamedTuple, TypeAlias

OrderId: TypeAlias = int | str
"""An order's id, chosen by the caller (the service uses sequence numbers or uuid strings)."""

Account: TypeAlias = int | str
"""The enterprise (or account) an order belongs to; self-trade prevention compares these."""

Fill: TypeAlias = tuple[OrderId, OrderId, int, int]
"""``(taker_id, maker_id, price, qty)``: one execution at the maker's (resting) price."""


class RestingOrder(NamedTuple):
    """An order resting in the book, as `OrderBook.order` reports it."""

    order_id: OrderId
    side: str
    price: int
    remaining: int
    account: Account


class DepthLevel(NamedTuple):
    """One price level: its price, total remaining quantity and number of orders."""

    price: int
    qty: int
    orders: int


class Depth(NamedTuple):
    """Best levels per side, best first."""

    bids: list[DepthLevel]
    asks: list[DepthLevel]

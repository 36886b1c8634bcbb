"""Requests to a market and what it answers; plain values the service passes in and out."""

from __future__ import annotations

from typing import Any, NamedTuple


class Order(NamedTuple):
    """A new order. ``account`` is the enterprise (credit code); ``entered_by`` the user who
    entered it (the enterprise's trader, or an administrator acting for it). ``kind`` 'L' limit,
    'M' market (immediate-or-cancel; ``price`` ignored)."""

    order_id: str
    account: str
    side: str
    kind: str
    price: int
    qty: int
    entered_by: str


class Cancel(NamedTuple):
    """Cancel a resting order; only its own enterprise may."""

    order_id: str
    account: str
    entered_by: str


Request = Order | Cancel


class Outcome(NamedTuple):
    """``status``: 'accepted' (new order), 'cancelled', or 'rejected' (``error`` names the
    typed refusal, nothing was written for it). ``fills`` are ``[trade_id, price, qty,
    'settled' | 'pending']``; ``resting`` is what the order left in the book."""

    order_id: str
    status: str
    fills: list[list[Any]]
    resting: int
    error: str | None = None
    message: str | None = None
    exception: Exception | None = None

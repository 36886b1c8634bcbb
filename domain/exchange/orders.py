"""Requests to a market and what it answers; plain values the service passes in and out."""

from __future__ import annotations

from typing import Any, NamedTuple


class Order(NamedTuple):
    """A new order. ``account`` is the enterprise (credit code); ``entered_by`` the user who
    entered it (the enterprise's trader, or an administrator acting for it). ``kind`` 'L' limit,
    'M' market (immediate-or-cancel; ``price`` ignored). ``tif``: 'DAY' (expires at the
    close) or 'GTC' (good till cancelled, limit orders, bounded by the market's ``gtc_days``)."""

    order_id: str
    account: str
    side: str
    kind: str
    price: int
    qty: int
    entered_by: str
    tif: str = "DAY"


class Cancel(NamedTuple):
    """Cancel a resting order; only its own enterprise may."""

    order_id: str
    account: str
    entered_by: str


class Amend(NamedTuple):
    """Change a resting order: ``qty`` its new remaining quantity, ``price`` its new limit
    price (None: keep). Reducing the quantity at the same price keeps the order's place in
    the queue; a new price (or more quantity) loses it: the order re-enters at the back."""

    order_id: str
    account: str
    qty: int
    price: int | None
    entered_by: str


Request = Order | Cancel | Amend


class RestingOrder(NamedTuple):
    """An order resting in a market's book (``Market.orders``); a fill or an amend replaces
    it with one of less ``remaining``. Derived state: the market rebuilds it from its batches,
    it is never stored. Immutable, so a batch decides on a plain copy of the market's orders
    (`domain.exchange.market`)."""

    account: str
    side: str
    price: int  #: a buy reserved this per tonne for ``remaining``
    remaining: int
    entered_by: str
    tif: str  #: time in force
    entered_on: str  #: the trading date it was entered on
    qty: int  #: the quantity it was entered with

    @property
    def filled(self) -> int:
        return self.qty - self.remaining

    def less(self, qty: int) -> RestingOrder:
        """The same order with ``qty`` less remaining (a fill, or an amend in place)."""
        a, s, p, remaining, e, t, d, q = self
        return _new(RestingOrder, (a, s, p, remaining - qty, e, t, d, q))


_new = tuple.__new__  # a record built from its fields in order, without checking them again


class Outcome(NamedTuple):
    """``status``: 'accepted' (new order), 'expired' (a market order that found nothing to
    trade with), 'amended', 'cancelled', or 'rejected' (``error`` names the typed refusal,
    nothing was written for it). ``fills`` are ``[trade_id, price, qty, 'settled' |
    'pending']`` (this request's); ``resting`` is what the order left in the book; ``filled``
    what the order has filled over its life (for a cancel: before it was cancelled).
    ``position`` is the event-log position of the market's ``BatchMatched`` that recorded the
    request, which the registry sets once the save holding it returned (None before, for a
    refusal, and when the store could not say: a commit resolved after a failure)."""

    order_id: str
    status: str
    fills: list[list[Any]]
    resting: int
    error: str | None = None
    message: str | None = None
    exception: Exception | None = None
    filled: int = 0
    position: int | None = None


def went_in(order_id: str, status: str, fills: list[list[Any]], resting: int,
            filled: int) -> Outcome:
    """The `Outcome` of a request that went in (no refusal; no position until its save),
    built from the fields in order: one for every request of a batch."""
    return _new(Outcome, (order_id, status, fills, resting, None, None, None, filled, None))


def at_position(outcomes: list[Outcome], position: int) -> list[Outcome]:
    """``outcomes`` with ``position`` set on each one that went in, a refusal's left as it is:
    what ``o._replace(position=position)`` gives, built from the fields in order
    (``position`` is the last) at a quarter of its cost, for every request of a batch."""
    head = len(Outcome._fields) - 1
    tail = (position,)
    return [o if o.exception is not None else _new(Outcome, o[:head] + tail)
            for o in outcomes]


def raise_refusal(outcome: Outcome) -> Outcome:
    """The outcome of a request that went in; the typed refusal raised for one refused."""
    if outcome.exception is not None:
        raise outcome.exception
    return outcome

"""Typed errors of the matching core.

Every rejection raised by `OrderBook.submit` is an `OrderRejected` and is raised before the book
changes, so a rejected order leaves no trace. `InvalidBookConfiguration` is raised when a book is
built (or re-banded) with rules that make no sense.
"""

from __future__ import annotations

from domain.errors import RegistryError


class MatchingError(RegistryError):
    """Root of the matching core's errors (a `RegistryError`: a refusal that changed nothing)."""

    code = "order-rejected"


class InvalidBookConfiguration(MatchingError, ValueError):
    """Tick, band, lot or maximum-order settings that cannot describe a market."""


class OrderRejected(MatchingError):
    """An order the book refuses; the book is unchanged."""


class InvalidOrder(OrderRejected):
    """Malformed order: unknown side or kind, non-integer or non-positive price or quantity."""


class InvalidTick(OrderRejected):
    """Limit price that is not a multiple of the tick size."""


class PriceOutsideBand(OrderRejected):
    """Limit price outside the day's price band around the reference price."""


class BelowMinimumLot(OrderRejected):
    """Quantity smaller than the minimum lot."""


class AboveMaximumOrder(OrderRejected):
    """Quantity larger than the maximum order size."""


class DuplicateOrderId(OrderRejected):
    """Order id equal to the id of an order resting in the book."""

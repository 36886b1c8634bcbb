"""The matching core: a pure, deterministic, integer-only limit order book per instrument."""

from domain.matching.book import OrderBook
from domain.matching.errors import (
    AboveMaximumOrder,
    BelowMinimumLot,
    DuplicateOrderId,
    InvalidBookConfiguration,
    InvalidOrder,
    InvalidTick,
    MatchingError,
    OrderRejected,
    PriceOutsideBand,
)
from domain.matching.rules import DEFAULT_BAND_PCT, MAX_INT, BookRules, band_bounds
from domain.matching.views import Account, Depth, DepthLevel, Fill, OrderId, RestingOrder

__all__ = [
    "DEFAULT_BAND_PCT",
    "MAX_INT",
    "AboveMaximumOrder",
    "Account",
    "BelowMinimumLot",
    "BookRules",
    "Depth",
    "DepthLevel",
    "DuplicateOrderId",
    "Fill",
    "InvalidBookConfiguration",
    "InvalidOrder",
    "InvalidTick",
    "MatchingError",
    "OrderBook",
    "OrderId",
    "OrderRejected",
    "PriceOutsideBand",
    "RestingOrder",
    "band_bounds",
]

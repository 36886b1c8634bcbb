"""Prices, lots and values: exact integer arithmetic, no rounding anywhere.

* A **price** is in fen per tonne (1 fen = 0.01 CNY; a tonne is 1,000 of the instrument's
  smallest unit: kg, or kgce for energy). The tick is 1 fen per tonne unless a market says more.
* A **quantity** is in kg (kgce) and must be a whole number of the market's **lot** (default
  1,000 kg, one tonne).
* The **value** of ``qty`` at ``price`` is ``price × qty / 1000`` fen.

Rounding policy: there is none, because the market parameters make every value an integer. A
market is only accepted when ``tick × lot`` is a multiple of 1,000: every limit price is a
multiple of the tick and every quantity (order, remainder, fill, allocation) a multiple of the
lot, so ``price × qty`` is always a multiple of 1,000. What a buyer pays is therefore exactly
what the seller receives, reservations release to the fen, and cash is conserved by
construction; `value` refuses (rather than rounds) anything else.
"""

from __future__ import annotations

from domain.errors import InvalidInput

TONNE = 1000


def value(price: int, qty: int) -> int:
    """Fen for ``qty`` (kg) at ``price`` (fen per tonne); refuses a value that is not whole."""
    total = price * qty
    if total % TONNE:
        raise InvalidInput(
            f"{qty} kg at {price} fen/t is not a whole number of fen; quantities must be whole "
            "lots of the market"
        )
    return total // TONNE


def check_lot(qty: int, lot: int, what: str = "quantity") -> int:
    if type(qty) is not int or qty <= 0:
        raise InvalidInput(f"{what} must be a positive integer of kg, got {qty!r}")
    if qty % lot:
        raise InvalidInput(f"{what} {qty} is not a whole number of lots of {lot} kg")
    return qty


def check_exact(tick: int, lot: int) -> None:
    """A market (or auction) whose every price × quantity is a whole number of fen."""
    if type(tick) is not int or type(lot) is not int or tick <= 0 or lot <= 0:
        raise InvalidInput("tick and lot must be positive integers")
    if tick * lot % TONNE:
        raise InvalidInput(
            f"tick {tick} fen/t × lot {lot} kg is not a multiple of 1000: values would need "
            "rounding"
        )

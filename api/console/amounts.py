"""Amounts as people read them: tonnes and yuan, from the integers the registry stores.

Stored values never change: quantities stay integer kg (kgce for ``ENERGY``), money integer fen.
Display is exact, with no rounding at all: 1 kg is 0.001 t, so a quantity is shown as
``kg / 1000`` with exactly three decimals, and 1 fen is 0.01 yuan, so money is ``fen / 100``
with exactly two (a price in fen per tonne likewise). Integer arithmetic (``Decimal.scaleb``,
never a float) does the division, so every displayed amount equals its stored one, and a
displayed sum equals the sum of the displayed parts. Grouping and the decimal sign follow the
page's language (Babel's CLDR data).
"""

from __future__ import annotations

from decimal import Decimal

from babel.numbers import format_decimal

from domain.reference import KINDS

TONNE_PATTERN = "#,##0.000"
YUAN_PATTERN = "#,##0.00"


def tonnes_text(kg: int, locale: str) -> str:
    """``kg`` as tonnes (tce for energy), three decimals, exact: 1500 → ``1.500``."""
    return format_decimal(Decimal(kg).scaleb(-3), format=TONNE_PATTERN, locale=locale)


def yuan_text(fen: int, locale: str) -> str:
    """``fen`` as yuan, two decimals, exact: 300000 → ``3,000.00``."""
    return format_decimal(Decimal(fen).scaleb(-2), format=YUAN_PATTERN, locale=locale)


def display_unit(kind: str | None) -> str:
    """The unit a kind is shown in: ``t`` for pollutants, ``tce`` (tonnes of standard coal
    equivalent) for energy-use rights."""
    info = KINDS.get(kind or "")
    return info.display_unit if info is not None else "t"

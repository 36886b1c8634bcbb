"""Amounts as people read them: tonnes and yuan, from the integers the registry stores.

Stored values never change: quantities stay integer kg (kgce for ``ENERGY``), money integer fen.
Display is exact, with no rounding at all: 1 kg is 0.001 t, so a quantity is shown as
``kg / 1000`` with exactly three decimals, and 1 fen is 0.01 yuan, so money is ``fen / 100``
with exactly two (a price in fen per tonne likewise). Integer division (``divmod``, never a
float) splits the whole and the fractional digits, so every displayed amount equals its stored
one, and a displayed sum equals the sum of the displayed parts. The group and decimal signs
follow the page's language (Babel's CLDR data, read once per language: a page shows hundreds
of amounts, and Babel's pattern formatter costs tens of microseconds each).
"""

from __future__ import annotations

import functools

from babel.numbers import get_decimal_symbol, get_group_symbol

from domain.reference import KINDS


@functools.cache
def _symbols(locale: str) -> tuple[str, str]:
    return get_group_symbol(locale), get_decimal_symbol(locale)


def exact_text(amount: int, decimals: int, locale: str) -> str:
    """``amount / 10**decimals`` with every decimal shown and the thousands grouped in
    threes: ``exact_text(-1234567, 3, "en")`` → ``-1,234.567``."""
    group, point = _symbols(locale)
    whole, fraction = divmod(abs(amount), 10**decimals)
    sign = "-" if amount < 0 else ""
    return f"{sign}{whole:,}".replace(",", group) + f"{point}{fraction:0{decimals}d}"


def tonnes_text(kg: int, locale: str) -> str:
    """``kg`` as tonnes (tce for energy), three decimals, exact: 1500 → ``1.500``."""
    return exact_text(kg, 3, locale)


def yuan_text(fen: int, locale: str) -> str:
    """``fen`` as yuan, two decimals, exact: 300000 → ``3,000.00``."""
    return exact_text(fen, 2, locale)


def display_unit(kind: str | None) -> str:
    """The unit a kind is shown in: ``t`` for pollutants, ``tce`` (tonnes of standard coal
    equivalent) for energy-use rights."""
    info = KINDS.get(kind or "")
    return info.display_unit if info is not None else "t"


def parse_exact(text: str, decimals: int) -> int:
    """The integer a person typed as ``text`` with at most ``decimals`` decimals (``1.5``
    with 3 → 1500; group commas allowed), exactly, without a float; ValueError otherwise."""
    cleaned = text.strip().replace(",", "")
    sign = -1 if cleaned.startswith("-") else 1
    whole, point, fraction = cleaned.lstrip("+-").partition(".")
    if not (whole or fraction) or not (whole or "0").isdigit() or \
            (point and fraction and not fraction.isdigit()) or len(fraction) > decimals:
        raise ValueError(f"{text!r} is not a number with at most {decimals} decimals")
    scale: int = 10**decimals
    return sign * (int(whole or "0") * scale + int(fraction.ljust(decimals, "0") or "0"))

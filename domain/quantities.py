"""Integer quantities and evidence references: the small value checks every aggregate shares."""

from __future__ import annotations

import re
from collections.abc import Mapping

from domain.errors import InvalidInput

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def check_quantity(value: object, what: str = "quantity", *, allow_zero: bool = False) -> int:
    """An integer of the smallest unit (kg or kgce): never a float, never negative."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidInput(f"{what} must be an integer of the smallest unit, got {value!r}")
    if value < 0 or (value == 0 and not allow_zero):
        raise InvalidInput(f"{what} must be {'non-negative' if allow_zero else 'positive'}")
    return value


def check_amounts(amounts: Mapping[str, int], kinds: list[str], what: str) -> dict[str, int]:
    """One non-negative integer per kind of the retrofit, no more and no fewer."""
    if sorted(amounts) != sorted(kinds):
        raise InvalidInput(
            f"{what} must give exactly the kinds {sorted(kinds)}, got {sorted(amounts)}"
        )
    return {k: check_quantity(v, f"{what}[{k}]", allow_zero=True) for k, v in amounts.items()}


def check_sha256(value: str) -> str:
    """Evidence is referenced by the lowercase hex SHA-256 of its report file."""
    if not isinstance(value, str) or not _SHA256.match(value):
        raise InvalidInput(f"evidence must be a lowercase hex SHA-256 digest, got {value!r}")
    return value

"""Unified social credit codes (统一社会信用代码, GB 32100-2015).

18 characters over ``0123456789ABCDEFGHJKLMNPQRTUWXY`` (no I, O, S, V, Z); the last is a check
character: ``31 − (Σ value(cᵢ)·wᵢ mod 31)``, where 31 maps to ``0``.
"""

from __future__ import annotations

from domain.errors import InvalidCreditCode

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_VALUE = {c: i for i, c in enumerate(ALPHABET)}
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def check_character(first17: str) -> str:
    """The check character for the first 17 characters of a code."""
    if len(first17) != 17 or any(c not in _VALUE for c in first17):
        raise InvalidCreditCode(f"need 17 characters of {ALPHABET!r}, got {first17!r}")
    total = sum(_VALUE[c] * w for c, w in zip(first17, WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def validate_credit_code(code: str) -> str:
    """Return the code if it is well formed with a correct check character; raise otherwise."""
    if not isinstance(code, str) or len(code) != 18:
        raise InvalidCreditCode(f"a unified social credit code has 18 characters: {code!r}")
    bad = [c for c in code if c not in _VALUE]
    if bad:
        raise InvalidCreditCode(f"character {bad[0]!r} is not allowed in a credit code: {code!r}")
    expected = check_character(code[:17])
    if code[17] != expected:
        raise InvalidCreditCode(f"check character of {code!r} should be {expected!r}")
    return code


def make_credit_code(first17: str) -> str:
    """Complete 17 characters with their check character (demo data makes its own codes)."""
    return first17 + check_character(first17)

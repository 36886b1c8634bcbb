"""Unified social credit codes (GB 32100-2015)."""

import pytest

from domain.credit_code import check_character, make_credit_code, validate_credit_code
from domain.errors import InvalidCreditCode


def test_standard_sample_code_is_valid() -> None:
    assert validate_credit_code("91350100M000100Y43") == "91350100M000100Y43"


def test_check_character_of_standard_sample() -> None:
    assert check_character("91350100M000100Y4") == "3"


@pytest.mark.parametrize("bad", [
    "91350100M000100Y44",  # wrong check character
    "91350100M000100Y4",  # too short
    "91350100M000100I43",  # I is not in the alphabet
    "91350100m000100Y43",  # lower case
])
def test_malformed_codes_are_refused(bad: str) -> None:
    with pytest.raises(InvalidCreditCode):
        validate_credit_code(bad)


def test_made_codes_validate() -> None:
    for n in range(200):
        validate_credit_code(make_credit_code(f"91440300MA5F{n:05d}"))


def test_check_character_maps_31_to_zero() -> None:
    # search a prefix whose weighted sum is 0 mod 31: the check character must be "0"
    prefix = next(p for p in (f"9144030000{n:07d}" for n in range(10_000))
                  if sum(int(c, 36) * w for c, w in zip(p, (1, 3, 9, 27, 19, 26, 16, 17, 20,
                                                             29, 25, 13, 8, 24, 10, 30, 28),
                                                        strict=True)) % 31 == 0)
    assert check_character(prefix) == "0"

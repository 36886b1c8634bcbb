"""The ``fast_base64`` speed-up decodes every text as the standard library's decoder does:
the same bytes, or a ``binascii.Error`` where it raises one."""

from __future__ import annotations

import base64
import binascii

from hypothesis import given, settings
from hypothesis import strategies as st

from registry.speedups import ALL, PLAIN, decode_leaf

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def both(text: bytes) -> tuple[str, bytes | str]:
    """What ``decode_leaf`` and ``a2b_base64`` make of ``text``, side by side."""
    results = []
    for decode in (decode_leaf, binascii.a2b_base64):
        try:
            results.append(("bytes", decode(text)))
        except binascii.Error as e:
            results.append(("error", type(e).__name__))
    assert results[0] == results[1], text
    return results[0]


@given(st.binary(max_size=3000))
def test_an_exporters_text_decodes_to_its_bytes(raw: bytes) -> None:
    assert both(base64.b64encode(raw)) == ("bytes", raw)


@settings(max_examples=2000)
@given(st.text(alphabet=_ALPHABET + "=\n\r -_.*$\x00é", max_size=64))
def test_any_text_decodes_or_fails_as_the_standard_library_decodes_it(text: str) -> None:
    both(text.encode("utf-8"))


@given(st.binary(min_size=1, max_size=200), st.integers(min_value=0), st.sampled_from(
    [b"=", b"==", b"\n", b" ", b"!", b"A", b"-", b"_"]))
def test_a_valid_text_with_one_character_put_in_decodes_as_there(raw: bytes, at: int,
                                                                 put: bytes) -> None:
    text = base64.b64encode(raw)
    at %= len(text) + 1
    both(text[:at] + put + text[at:])


def test_the_switch_chooses_the_decoder() -> None:
    assert ALL.leaf_decoder() is decode_leaf
    assert PLAIN.leaf_decoder() is binascii.a2b_base64

"""`registry.canonical.dumps` writes exactly what ``rfc8785.dumps`` writes, or fails as it does:
for every code point in a string, and for arbitrary JSON values (floats, large integers and
non-ASCII keys included, which go to the library)."""

from __future__ import annotations

from enum import IntEnum
from typing import Any

import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from registry import canonical


def outcome(encode: Any, value: Any) -> bytes | str:
    try:
        out: bytes = encode(value)
    except Exception as exc:  # the same failure is the same outcome
        return type(exc).__name__
    return out


def test_every_code_point_is_written_as_rfc8785_writes_it() -> None:
    points = [*range(0xD800), *range(0xE000, 0x110000)]
    for start in range(0, len(points), 512):
        text = "".join(map(chr, points[start:start + 512]))
        assert canonical.dumps(text) == rfc8785.dumps(text), hex(points[start])
        assert canonical.dumps({"k": [text]}) == rfc8785.dumps({"k": [text]})


scalars = (st.none() | st.booleans() | st.text()
           | st.integers(min_value=-(2**60), max_value=2**60)
           | st.floats(allow_nan=False, allow_infinity=False))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=5)
                      | st.dictionaries(st.text(max_size=8), inner, max_size=5), max_leaves=30)


@settings(max_examples=400)
@given(values)
def test_any_json_value_encodes_as_the_library_encodes_it(value: Any) -> None:
    assert outcome(canonical.dumps, value) == outcome(rfc8785.dumps, value)


def test_what_orjson_would_write_differently_goes_to_the_library() -> None:
    assert canonical.dumps({"b": 1.5, "a": 1e21}) == rfc8785.dumps({"b": 1.5, "a": 1e21})
    assert canonical.dumps({"é": 1, "z": 2, "\U0001f600": 3, "\ufb01": 4}) == rfc8785.dumps(
        {"é": 1, "z": 2, "\U0001f600": 3, "\ufb01": 4})
    assert outcome(canonical.dumps, 2**53) == outcome(rfc8785.dumps, 2**53)
    assert outcome(canonical.dumps, "\ud800") == outcome(rfc8785.dumps, "\ud800")


class Side(IntEnum):
    BUY = 1


class Code(str):
    pass


def test_a_flat_list_or_dict_decides_as_the_library_for_every_item_kind() -> None:
    # the items of lists and dicts are tested in line, and integers beyond ±(2**53 - 1) are
    # refused by orjson itself (``OPT_STRICT_INTEGER``): the library decides every such case
    safe = 2**53 - 1
    for odd in (safe, -safe, safe + 1, -safe - 1, 2**64, 1.5, 1e21, Side.BUY, Code("x"),
                ("a", 1), b"x", "\ud800", {"é": 1}, {Code("k"): 1}, {1: 2}, [[safe + 1]]):
        for value in ([odd], ["S", 1, odd, None], {"k": odd}, {"a": [1, {"b": odd}]}):
            assert outcome(canonical.dumps, value) == outcome(rfc8785.dumps, value), value


@settings(max_examples=200)
@given(st.lists(values, max_size=6))
def test_a_lists_items_encode_each_as_the_library_encodes_it(items: list[Any]) -> None:
    expected = [outcome(rfc8785.dumps, v) for v in items]
    if all(isinstance(e, bytes) for e in expected):
        assert canonical.dumps_each(items) == expected
    else:  # an item the library refuses: refused the same way
        assert outcome(canonical.dumps_each, items) == next(
            e for e in expected if not isinstance(e, bytes))


def test_one_odd_item_leaves_the_others_encoded_exactly() -> None:
    items = [["S", 1], ["B", "\ud800"], ["S", 2**53 - 1], {"é": 1.5}]
    assert canonical.dumps_each(items[:1] + items[2:]) == [
        rfc8785.dumps(v) for v in items[:1] + items[2:]]
    assert outcome(canonical.dumps_each, items) == outcome(rfc8785.dumps, items[1])


#: pieces that look like the cut between two list items, to be found inside items
traps = st.sampled_from(["],[", "]", "[", ",", '"],["', "\\"])
small = st.integers(-(2**53) + 1, 2**53 - 1)
flat = st.lists(st.none() | st.booleans() | small | st.text(max_size=6) | traps
                | st.lists(traps | small, max_size=2), max_size=5)


@settings(max_examples=400)
@given(st.lists(flat, max_size=8))
def test_a_list_of_lists_cut_from_one_call_is_each_item_as_the_library_writes_it(
        items: list[Any]) -> None:
    expected = [outcome(rfc8785.dumps, v) for v in items]
    assert all(isinstance(e, bytes) for e in expected)
    assert canonical.dumps_each(items) == expected


def test_a_cut_with_a_piece_too_many_is_not_taken() -> None:
    items = [["S", "a],[b"], [[1], [2]], [], ["B", 1]]
    whole = canonical.dumps(items)
    assert canonical._cut_items(whole, items) is None  # seven pieces for four items
    assert canonical.dumps_each(items) == [rfc8785.dumps(v) for v in items]
    plain = [["S", 1, "x"], [], ["B", 2]]
    assert canonical._cut_items(canonical.dumps(plain), plain) == [
        rfc8785.dumps(v) for v in plain]

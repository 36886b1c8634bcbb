"""RFC 8785 (JSON Canonicalization Scheme) bytes of a leaf's record, at orjson's speed.

Every ledger leaf is the RFC 8785 encoding of an event record (`registry.ledger_follower`), and
the ``rfc8785`` library, pure Python, cost 18 µs per event: about half of a ledger catch-up,
which an auditor's checkpoint request waits for. ``orjson`` with sorted keys writes the same
bytes for the values records are made of (measured: 2 µs per event, byte-identical on every
event of a load run's log):

* strings: both escape ``"``, ``\\`` and the control characters alike (``\\b \\f \\n \\r \\t``,
  the others as lowercase ``\\u00xx``) and write every other character as UTF-8; checked for
  every code point outside the surrogates (``tests/property/test_canonical.py``);
* integers within ±(2**53 − 1), which RFC 8785 writes as their digits (larger ones it refuses);
* ``true``, ``false``, ``null``, arrays, and objects whose keys are ASCII: RFC 8785 sorts keys
  by UTF-16 code units, orjson by UTF-8 bytes, and for ASCII the two orders are one.

Anything else — a float, a non-ASCII key, a larger integer, a string orjson cannot encode (a
lone surrogate), a type of another kind — goes to ``rfc8785`` itself, so the result, or the
error, is always exactly the library's.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import chain
from typing import Any

import orjson
import rfc8785

#: the scalars orjson writes as RFC 8785 does (integers: within ±(2**53 − 1), which
#: ``OPT_STRICT_INTEGER`` makes orjson refuse beyond, and the library then decides)
_SCALARS = frozenset({str, int, bool, type(None)})
_NODES = _SCALARS | {dict, list}
_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_STRICT_INTEGER


def _plain(value: Any) -> bool:
    """True if every node is of a kind orjson writes exactly as RFC 8785 does."""
    kind = type(value)
    if kind in _SCALARS:
        return True
    if kind is dict:
        return _ascii_keys(value) and _plain_items(value.values())
    if kind is list:
        return _plain_items(value)
    return False


def _ascii_keys(value: dict[Any, Any]) -> bool:
    return set(map(type, value)) <= {str} and "".join(value).isascii()


def _plain_items(items: Iterable[Any]) -> bool:
    """`_plain` of every item, a scalar tested in line: a leaf's records are mostly flat lists
    of strings and integers (a batch's orders, its trades), and a call per scalar was most of
    the cost of encoding them."""
    for item in items:
        kind = type(item)
        if kind in _SCALARS or ((kind is dict or kind is list) and _plain(item)):
            continue
        return False
    return True


def dumps(value: Any) -> bytes:
    """The RFC 8785 encoding of ``value`` (as ``rfc8785.dumps``)."""
    if _plain(value):
        try:
            return orjson.dumps(value, option=_OPTIONS)
        except orjson.JSONEncodeError:
            pass  # a lone surrogate, a larger integer: the library decides, as it always did
    return rfc8785.dumps(value)


def dumps_each(values: list[Any]) -> list[bytes]:
    """``[dumps(v) for v in values]``, deciding for the whole list at once whether orjson may
    write its items (a batch's sealed orders are each encoded on their own). A list of flat
    lists (a batch's orders) is written in one orjson call and cut into its items
    (`_cut_items`): a call per item cost 2.5 µs, twenty times what the item's bytes cost."""
    if _plain_flat_lists(values) or _plain(values):
        try:
            whole = orjson.dumps(values, option=_OPTIONS)
        except orjson.JSONEncodeError:
            pass  # an item the library decides: each one as `dumps` does
        else:
            return _cut_items(whole, values) or [orjson.dumps(v, option=_OPTIONS)
                                                 for v in values]
    return [dumps(v) for v in values]


def _plain_flat_lists(values: list[Any]) -> bool:
    """True if ``values`` is a list of lists of scalars orjson writes as RFC 8785 does (the
    items' kinds gathered in C, without a call per item); False when not, or not that shape
    (then `_plain` decides)."""
    return (set(map(type, values)) == {list}
            and set(map(type, chain.from_iterable(values))) <= _SCALARS)


def _cut_items(whole: bytes, values: list[Any]) -> list[bytes] | None:
    """The items of the list ``whole`` encodes (``values``, each a list), cut out of it, or
    None. orjson writes a list as ``[`` its items joined by ``,`` ``]``, so between two list
    items stands ``],[``; cut there, the pieces are the items exactly when there are as many
    as items: a ``],[`` inside an item (in a string, or between nested lists) only ever adds
    a piece."""
    if not values or set(map(type, values)) != {list}:
        return None
    pieces = whole[2:-2].split(b"],[")
    if len(pieces) != len(values):
        return None
    return [b"[" + piece + b"]" for piece in pieces]

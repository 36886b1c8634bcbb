"""The speed-up ``leaf_tails`` (`registry.speedups.leaf_tail`): a leaf's position and timestamp
read from its last members are what a parser of the whole leaf reads, and the ledger follower's
check before signing gives the plain check's verdict (the same leaf named, the same reason) on
leaves read back as they were written and on leaves edited since."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.errors import LeafMismatchError
from registry import canonical
from registry.ledger_follower import _leaf_position, _leaf_time, _tail_position
from registry.speedups import ALL, PLAIN, leaf_tail
from tests.integration.test_speedups import fresh_follower, run

_KEYS = st.sampled_from(["aggregate_id", "payload", "position", "subjects", "timestamp",
                         "topic", "version", "p", "z"])
#: strings that look like the members searched for, to be found in the wrong places
_TRAPS = st.sampled_from([',"position":', ',"position":7}', ',"timestamp":"x"', '"}', "]"])
_SCALARS = st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text() | _TRAPS
_VALUES = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=4)
                       | st.dictionaries(_KEYS, inner, max_size=4), max_leaves=25)


@given(st.dictionaries(_KEYS, _VALUES, min_size=1, max_size=8), st.sampled_from(
    ["position", "timestamp", "payload", "p"]))
def test_a_tail_read_is_the_whole_leafs_members_from_the_key_on(record: dict[str, Any],
                                                                 key: str) -> None:
    leaf = canonical.dumps(record)
    tail = leaf_tail(leaf, key)
    if tail is not None:  # None: the caller parses the whole leaf
        whole = json.loads(leaf)
        assert key in whole and tail[key] == whole[key]
        assert list(tail) == [k for k in whole if k >= key]
        assert tail == {k: whole[k] for k in tail}


@given(st.binary(max_size=200))
def test_a_tail_read_of_any_bytes_answers_without_raising(data: bytes) -> None:
    tail = leaf_tail(data + b',"position":1}', "position")
    assert tail is None or isinstance(tail, dict)


def test_every_leaf_of_a_trading_log_reads_the_same_from_its_tail(tmp_path: Path) -> None:
    app = run(tmp_path, "all")  # batches of sealed orders and trades among the events
    try:
        follower = fresh_follower(app, tmp_path / "ledger", ALL)
        with follower.ledger as ledger:
            size = follower.catch_up()
            leaves = list(ledger.leaves())
            assert len(leaves) == size > 100
            for i, leaf in enumerate(leaves):
                assert leaf_tail(leaf, "position") is not None  # read from the tail, not parsed
                assert _tail_position(i, leaf) == _leaf_position(i, leaf) == \
                    json.loads(leaf)["position"]
                assert _leaf_time(leaf, tails=True) == _leaf_time(leaf) is not None
            # the last position from what was appended last, as the last leaf says
            assert follower.last_position() == json.loads(leaves[-1])["position"]
    finally:
        app.close()


def _edits(leaves: list[bytes]) -> dict[str, list[bytes]]:
    """Leaves read back edited in ways a tail read sees differently from a parser."""
    def at(i: int, leaf: bytes) -> list[bytes]:
        out = [*leaves]
        out[i] = leaf
        return out

    first, tenth = leaves[0], leaves[9]
    position = json.loads(tenth)["position"]
    return {
        "as written": [*leaves],
        "tail position moved": at(9, tenth.replace(b',"position":%d,' % position,
                                                   b',"position":%d,' % (position + 1))),
        "not JSON before an intact tail": at(9, b"#" + tenth[1:]),
        "not JSON, a later leaf too": at(12, b"#" + leaves[12][1:]),
        "a second position at the end": at(9, tenth[:-1] + b',"position":%d}' % (position + 1)),
        "payload byte changed": at(3, leaves[3].replace(b'"payload":{', b'"payload":{"x":1,', 1)),
        "two leaves swapped": [leaves[1], first, *leaves[2:]],
        "no position": at(0, json.dumps({"payload": {}}).encode()),
    }


@pytest.mark.parametrize("edit", ["as written", "tail position moved",
                                  "not JSON before an intact tail", "not JSON, a later leaf too",
                                  "a second position at the end", "payload byte changed",
                                  "two leaves swapped", "no position"])
def test_the_check_on_tail_positions_gives_the_plain_checks_verdict(edit: str,
                                                                    tmp_path: Path) -> None:
    app = run(tmp_path, "all")
    try:
        verdicts = []
        for speedups in (ALL, PLAIN):
            follower = fresh_follower(app, tmp_path / f"ledger-{speedups.leaf_tails}", speedups)
            with follower.ledger as ledger:
                ledger.checkpoint = lambda: ""  # type: ignore[method-assign]  # appended, unchecked
                follower.catch_up()
                leaves = _edits(list(ledger.leaves()))[edit]
                try:
                    follower.check_leaves(0, leaves)
                    verdicts.append(None)
                except LeafMismatchError as refused:
                    verdicts.append((refused.index, str(refused)))
        assert verdicts[0] == verdicts[1]
        assert (verdicts[0] is None) == (edit == "as written")
    finally:
        app.close()

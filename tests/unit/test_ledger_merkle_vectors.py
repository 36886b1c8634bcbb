"""Known-answer tests for ledger.merkle and ledger.tree from tests/vectors/rfc6962_vectors.json."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from ledger.merkle import (
    EMPTY_ROOT,
    VerificationError,
    empty_root,
    hash_children,
    hash_leaf,
    root,
    root_of_hashes,
    verify_consistency,
    verify_inclusion,
)
from ledger.tree import MerkleTree

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "rfc6962_vectors.json"
DATA: dict[str, Any] = json.loads(VECTORS.read_text())
CT8 = DATA["trees"]["ct8"]
CT8_LEAVES = [bytes.fromhex(x) for x in CT8["leaves_hex"]]


def _h(values: list[str]) -> list[bytes]:
    return [bytes.fromhex(v) for v in values]


def _ct8_tree(size: int = 8) -> MerkleTree:
    tree = MerkleTree()
    tree.extend(CT8_LEAVES[:size])
    return tree


def _incl_ok(v: dict[str, Any]) -> bool:
    try:
        verify_inclusion(
            index=v["leaf_index"],
            size=v["tree_size"],
            leaf_hash=bytes.fromhex(v["leaf_hash_hex"]),
            proof=_h(v["path_hex"]),
            root=bytes.fromhex(v["root_hex"]),
        )
    except VerificationError:
        return False
    return True


def _cons_ok(v: dict[str, Any]) -> bool:
    try:
        verify_consistency(
            size1=v["size1"],
            size2=v["size2"],
            root1=bytes.fromhex(v["root1_hex"]),
            root2=bytes.fromhex(v["root2_hex"]),
            proof=_h(v["path_hex"]),
        )
    except VerificationError:
        return False
    return True


@pytest.mark.parametrize("case", DATA["hasher"], ids=lambda c: c["desc"])
def test_hasher_known_answers(case: dict[str, Any]) -> None:
    want = bytes.fromhex(case["expected_hex"])
    if case["op"] == "empty_root":
        assert empty_root() == EMPTY_ROOT == want == root([])
    elif case["op"] == "leaf":
        assert hash_leaf(bytes.fromhex(case["input_hex"])) == want
    else:
        left, right = bytes.fromhex(case["left_hex"]), bytes.fromhex(case["right_hex"])
        assert hash_children(left, right) == want


def test_ct8_leaf_and_node_hashes_match_stored_levels() -> None:
    tree = _ct8_tree()
    assert [tree.leaf_hash(i).hex() for i in range(8)] == CT8["leaf_hashes_hex"]
    for level, nodes in enumerate(CT8["node_hashes_by_level_hex"]):
        assert [tree._node(level, j).hex() for j in range(len(nodes))] == nodes


def test_ct8_roots_at_every_size_incremental_and_from_list() -> None:
    tree = MerkleTree()
    for size in range(9):
        want = CT8["roots_hex"][str(size)]
        assert root(CT8_LEAVES[:size]).hex() == want
        assert tree.root().hex() == want
        if size < 8:
            tree.append(CT8_LEAVES[size])
    for size in range(9):  # past sizes from the grown tree
        assert tree.root(size).hex() == CT8["roots_hex"][str(size)]


def _non_policy(section: str) -> list[dict[str, Any]]:
    return [v for v in DATA[section] if "policy_note" not in v]


@pytest.mark.parametrize("vec", _non_policy("inclusion"), ids=lambda v: v["id"])
def test_inclusion_vector(vec: dict[str, Any]) -> None:
    assert _incl_ok(vec) is vec["valid"]
    if vec.get("tree") == "ct8" and vec["valid"]:
        proof = _ct8_tree().inclusion_proof(vec["leaf_index"], vec["tree_size"])
        assert [p.hex() for p in proof] == vec["path_hex"]


@pytest.mark.parametrize("vec", _non_policy("consistency"), ids=lambda v: v["id"])
def test_consistency_vector(vec: dict[str, Any]) -> None:
    assert _cons_ok(vec) is vec["valid"]
    if vec.get("tree") == "ct8" and vec["valid"]:
        proof = _ct8_tree().consistency_proof(vec["size1"], vec["size2"])
        assert [p.hex() for p in proof] == vec["path_hex"]


def test_check_generation_vectors_are_covered() -> None:
    sections = ("inclusion", "consistency")
    flagged = [v for s in sections for v in DATA[s] if v.get("check_generation")]
    assert len(flagged) == 10
    assert all(v["tree"] == "ct8" and v["valid"] for v in flagged)


def test_real_ct_log_inclusion_and_consistency_verify() -> None:
    real = DATA["real_log"][0]
    sth = real["sth"]
    leaf_hash = hash_leaf(bytes.fromhex(real["leaf_input_hex"]))
    assert leaf_hash.hex() == real["leaf_hash_hex"]
    root2 = bytes.fromhex(sth["sha256_root_hash_hex"])
    verify_inclusion(
        index=real["leaf_index"],
        size=sth["tree_size"],
        leaf_hash=leaf_hash,
        proof=_h(real["audit_path_hex"]),
        root=root2,
    )
    cons = real["consistency"]
    verify_consistency(
        size1=cons["size1"],
        size2=sth["tree_size"],
        root1=bytes.fromhex(cons["root1_hex"]),
        root2=root2,
        proof=_h(cons["path_hex"]),
    )


# --- policy cases (module docstring of ledger.merkle) ---------------------------------------


def _policy(section: str) -> list[dict[str, Any]]:
    return [v for v in DATA[section] if "policy_note" in v]


@pytest.mark.parametrize(
    "vec", [v for v in _policy("consistency") if v["size1"] == 0], ids=lambda v: v["id"]
)
def test_policy_consistency_from_empty_tree_always_rejected(vec: dict[str, Any]) -> None:
    assert not _cons_ok(vec)


def test_policy_consistency_generation_from_empty_tree_refused() -> None:
    with pytest.raises(ValueError):
        _ct8_tree().consistency_proof(0, 8)


@pytest.mark.parametrize(
    "vec",
    [v for v in _policy("consistency") if v["size1"] == v["size2"] != 0],
    ids=lambda v: v["id"],
)
def test_policy_equal_sizes_need_empty_proof_equal_32_byte_roots(vec: dict[str, Any]) -> None:
    roots_are_hashes = len(vec["root1_hex"]) == len(vec["root2_hex"]) == 64
    expected = not vec["path_hex"] and vec["root1_hex"] == vec["root2_hex"] and roots_are_hashes
    assert _cons_ok(vec) is expected
    # Deliberately stricter than transparency-dev/merkle: 12-byte "roots" are rejected.
    if vec["id"].endswith("sizes-are-equal-one-and-proof-is-empty.json"):
        assert vec["valid"] and not _cons_ok(vec)
    elif roots_are_hashes:
        assert _cons_ok(vec) is vec["valid"]


def test_policy_equal_sizes_generate_empty_proof() -> None:
    assert _ct8_tree().consistency_proof(5, 5) == []


@pytest.mark.parametrize(
    "vec",
    [v for s in ("inclusion", "consistency") for v in _policy(s) if "malleab" in v["desc"]],
    ids=lambda v: v["id"],
)
def test_policy_tree_size_malleability_is_accepted_like_rfc9162(vec: dict[str, Any]) -> None:
    ok = _incl_ok(vec) if "leaf_index" in vec else _cons_ok(vec)
    assert ok and vec["valid"]


def test_every_policy_vector_is_covered_by_a_policy_test() -> None:
    for section in ("inclusion", "consistency"):
        for v in _policy(section):
            assert v.get("size1") == 0 or v.get("size1") == v.get("size2") or "malleab" in v["desc"]


# --- rolling checks (draft-ietf-plants-merkle-tree-certs subtree vectors) -------------------


def _valid_subtree(start: int, end: int) -> bool:
    if start in (0, end):
        return True
    ceil = 1 << (end - start - 1).bit_length()
    return start % ceil == 0


def _subtrees(num: int) -> list[tuple[int, int]]:
    return [(s, e) for e in range(num + 1) for s in range(e + 1) if _valid_subtree(s, e)]


def test_rolling_subtree_hashes() -> None:
    check = next(c for c in DATA["rolling_hash_checks"] if c["kind"] == "subtree_hash")
    d = [bytes([i]) for i in range(check["num_leaves"])]
    text = "".join(f"[{s}, {e}) {root(d[s:e]).hex()}\n" for s, e in _subtrees(len(d)))
    assert hashlib.sha256(text.encode()).hexdigest() == check["expected_sha256_hex"]


def test_rolling_subtree_inclusion_paths() -> None:
    check = next(c for c in DATA["rolling_hash_checks"] if c["kind"] == "subtree_inclusion")
    d = [bytes([i]) for i in range(check["num_leaves"])]
    lines = []
    for s, e in _subtrees(len(d)):
        tree = MerkleTree()
        tree.extend(d[s:e])
        for index in range(s, e):
            path = "".join(f" {h.hex()}" for h in tree.inclusion_proof(index - s))
            lines.append(f"{index} [{s}, {e}){path}\n")
    assert hashlib.sha256("".join(lines).encode()).hexdigest() == check["expected_sha256_hex"]


def test_root_of_hashes_matches_tree_root() -> None:
    hashes = [hash_leaf(bytes([i])) for i in range(37)]
    tree = MerkleTree()
    tree.extend_hashes(hashes)
    assert root_of_hashes(hashes) == tree.root()

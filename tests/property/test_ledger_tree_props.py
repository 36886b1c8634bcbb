"""Property tests: the incremental tree agrees with the RFC 9162 recursive definitions."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.merkle import (
    VerificationError,
    hash_children,
    hash_leaf,
    root_of_hashes,
    verify_consistency,
    verify_inclusion,
)
from ledger.tree import MerkleTree, RootAccumulator


def _mth(hashes: list[bytes]) -> bytes:
    """RFC 9162 section 2.1.1 MTH, literally recursive."""
    if len(hashes) == 1:
        return hashes[0]
    k = 1 << ((len(hashes) - 1).bit_length() - 1)
    return hash_children(_mth(hashes[:k]), _mth(hashes[k:]))


def _path(m: int, hashes: list[bytes]) -> list[bytes]:
    """RFC 9162 section 2.1.3.1 PATH(m, D[n])."""
    if len(hashes) == 1:
        return []
    k = 1 << ((len(hashes) - 1).bit_length() - 1)
    if m < k:
        return [*_path(m, hashes[:k]), _mth(hashes[k:])]
    return [*_path(m - k, hashes[k:]), _mth(hashes[:k])]


def _subproof(m: int, hashes: list[bytes], whole: bool) -> list[bytes]:
    """RFC 9162 section 2.1.4.1 SUBPROOF(m, D[n], b)."""
    n = len(hashes)
    if m == n:
        return [] if whole else [_mth(hashes)]
    k = 1 << ((n - 1).bit_length() - 1)
    if m <= k:
        return [*_subproof(m, hashes[:k], whole), _mth(hashes[k:])]
    return [*_subproof(m - k, hashes[k:], False), _mth(hashes[:k])]


def _leaves(n: int) -> list[bytes]:
    return [hash_leaf(i.to_bytes(4, "big")) for i in range(n)]


def _grow(hashes: list[bytes], cuts: list[int]) -> MerkleTree:
    """Build a tree mixing single appends and batches of various sizes."""
    tree, pos = MerkleTree(), 0
    for cut in sorted(c % (len(hashes) + 1) for c in cuts):
        tree.extend_hashes(hashes[pos:cut] if cut > pos else [])
        pos = max(pos, cut)
        if pos < len(hashes):
            tree.append_hash(hashes[pos])
            pos += 1
    tree.extend_hashes(hashes[pos:])
    return tree


sizes = st.integers(min_value=1, max_value=300)


@settings(max_examples=150, deadline=None)
@given(n=sizes, cuts=st.lists(st.integers(0, 300), max_size=6))
def test_incremental_root_equals_recursive_root_at_every_size(n: int, cuts: list[int]) -> None:
    hashes = _leaves(n)
    tree = _grow(hashes, cuts)
    assert tree.size == n
    for size in {1, n, n // 2 + 1, max(1, n - 1)}:
        assert tree.root(size) == _mth(hashes[:size]) == root_of_hashes(hashes[:size])


@settings(max_examples=150, deadline=None)
@given(n=sizes, chunks=st.lists(st.integers(1, 70), max_size=10))
def test_streaming_root_equals_recursive_root(n: int, chunks: list[int]) -> None:
    hashes = _leaves(n)
    acc, pos = RootAccumulator(), 0
    for chunk in chunks:
        acc.extend_hashes(hashes[pos : pos + chunk])
        pos = min(n, pos + chunk)
    acc.extend_hashes(hashes[pos:])
    assert acc.size == n and acc.root() == _mth(hashes)


@st.composite
def index_in_tree(draw: st.DrawFn) -> tuple[int, int, int]:
    n = draw(sizes)
    size = draw(st.integers(1, n))
    return n, draw(st.integers(0, size - 1)), size


@settings(max_examples=200, deadline=None)
@given(case=index_in_tree())
def test_inclusion_proof_matches_rfc_path_and_verifies(case: tuple[int, int, int]) -> None:
    n, index, size = case
    hashes = _leaves(n)
    tree = _grow(hashes, [])
    proof = tree.inclusion_proof(index, size)
    assert proof == _path(index, hashes[:size])
    verify_inclusion(
        index=index, size=size, leaf_hash=hashes[index], proof=proof, root=tree.root(size)
    )


@st.composite
def old_new(draw: st.DrawFn) -> tuple[int, int, int]:
    n = draw(sizes)
    new = draw(st.integers(1, n))
    return n, draw(st.integers(1, new)), new


@settings(max_examples=200, deadline=None)
@given(case=old_new())
def test_consistency_proof_matches_rfc_subproof_and_verifies(case: tuple[int, int, int]) -> None:
    n, old, new = case
    hashes = _leaves(n)
    tree = _grow(hashes, [])
    proof = tree.consistency_proof(old, new)
    assert proof == _subproof(old, hashes[:new], True)
    verify_consistency(
        size1=old, size2=new, root1=tree.root(old), root2=tree.root(new), proof=proof
    )


@settings(max_examples=200, deadline=None)
@given(case=index_in_tree(), data=st.data())
def test_mutated_inclusion_proof_fails(case: tuple[int, int, int], data: st.DataObject) -> None:
    n, index, size = case
    hashes = _leaves(n)
    tree = _grow(hashes, [])
    proof = tree.inclusion_proof(index, size)
    kwargs = {"index": index, "size": size, "leaf_hash": hashes[index], "root": tree.root(size)}
    mutation = data.draw(st.sampled_from(["flip", "drop", "extend", "index", "leaf"]))
    if mutation == "flip" and proof:
        i = data.draw(st.integers(0, len(proof) - 1))
        bit = data.draw(st.integers(0, 255))
        node = bytearray(proof[i])
        node[bit // 8] ^= 1 << (bit % 8)
        proof[i] = bytes(node)
    elif mutation == "drop" and proof:
        proof.pop(data.draw(st.integers(0, len(proof) - 1)))
    elif mutation == "index" and size > 1:
        kwargs["index"] = (index + data.draw(st.integers(1, size - 1))) % size
    elif mutation == "leaf":
        kwargs["leaf_hash"] = hash_leaf(b"not a leaf")
    else:
        proof.append(hashes[0])
    with pytest.raises(VerificationError):
        verify_inclusion(proof=proof, **kwargs)  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(case=old_new(), data=st.data())
def test_mutated_consistency_proof_fails(case: tuple[int, int, int], data: st.DataObject) -> None:
    n, old, new = case
    hashes = _leaves(n)
    tree = _grow(hashes, [])
    proof = tree.consistency_proof(old, new)
    root1, root2 = tree.root(old), tree.root(new)
    mutate_proof = data.draw(st.booleans())
    if proof and mutate_proof:
        i = data.draw(st.integers(0, len(proof) - 1))
        proof[i] = hash_children(proof[i], proof[i])
    else:
        root1 = hash_leaf(root1)  # a different old tree
    with pytest.raises(VerificationError):
        verify_consistency(size1=old, size2=new, root1=root1, root2=root2, proof=proof)


@settings(max_examples=50, deadline=None)
@given(n=st.integers(1, 64))
def test_generators_refuse_out_of_range_arguments(n: int) -> None:
    tree = _grow(_leaves(n), [])
    for bad in [(n, n), (-1, n), (0, n + 1)]:
        with pytest.raises(ValueError):
            tree.inclusion_proof(*bad)
    for old, new in [(0, n), (n, n + 1), (n + 1, n)]:
        with pytest.raises(ValueError):
            tree.consistency_proof(old, new)

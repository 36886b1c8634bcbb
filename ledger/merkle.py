"""RFC 9162 Merkle tree hashing and proof verification (pure functions).

Hashing follows RFC 9162 section 2.1.1 (identical to RFC 6962 section 2.1): SHA-256, leaf
hashes ``SHA-256(0x00 || d)``, interior nodes ``SHA-256(0x01 || left || right)``, the empty tree
hashes to ``SHA-256("")``, and the tree over ``n > 1`` leaves splits at the largest power of two
``k < n``.

Verification follows RFC 9162 sections 2.1.3.2 (inclusion) and 2.1.4.2 (consistency), written
in the bit-decomposition form of transparency-dev/merkle's ``proof`` package and with its strict
preconditions: ``index < size``, every hash exactly 32 bytes, and a proof of exactly the expected
length.  Every failure raises the single :class:`VerificationError`.

Policy decisions (cases outside RFC 9162's domain, tested explicitly in
``tests/unit/test_ledger_merkle_vectors.py``):

* **size1 = 0** -- a consistency proof from the empty tree is meaningless (every tree extends it
  and there is no root to bind), so :func:`verify_consistency` always rejects it, even with
  ``size2 = 0``; callers with no previous checkpoint simply skip the check.  Generators refuse it
  too (``ValueError``), so generation and verification agree.
* **size1 = size2** -- accepted only with an empty proof and byte-equal roots.  Unlike
  transparency-dev/merkle (which does not look at root lengths in this branch) both roots must
  still be 32 bytes: a 12-byte "root" is never a SHA-256 tree head, so the published vector
  ``sizes-are-equal-one-and-proof-is-empty`` (12-byte roots) is *rejected* here on purpose.
* **Tree-size malleability** -- an inclusion or consistency proof only depends on the size
  through ``bit_length(index ^ (size - 1))`` and ``popcount(index >> inner)``, so a proof may
  verify for several sizes.  We accept exactly what RFC 9162 accepts and do not try to guess:
  the size is authenticated by the *signed checkpoint* that carries the root, and every caller in
  this package takes size and root from the same verified checkpoint.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "VerificationError",
    "empty_root",
    "hash_children",
    "hash_leaf",
    "root",
    "root_from_inclusion_proof",
    "root_of_hashes",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
_sha256 = hashlib.sha256
EMPTY_ROOT = _sha256(b"").digest()


class VerificationError(Exception):
    """A proof, root, signature or export failed verification (the one error verifiers raise)."""


def hash_leaf(data: bytes) -> bytes:
    """Leaf hash ``SHA-256(0x00 || data)`` (RFC 9162 section 2.1.1)."""
    return _sha256(b"\x00" + data).digest()


def hash_children(left: bytes, right: bytes) -> bytes:
    """Interior node hash ``SHA-256(0x01 || left || right)`` (RFC 9162 section 2.1.1)."""
    return _sha256(b"\x01" + left + right).digest()


def empty_root() -> bytes:
    """Root of the empty tree, ``SHA-256("")`` (RFC 9162 section 2.1.1)."""
    return EMPTY_ROOT


def root_of_hashes(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH over already leaf-hashed entries (RFC 9162 section 2.1.1), level by level.

    Pairing adjacent nodes and promoting a lone last node yields the same tree as the RFC's
    "split at the largest power of two" recursion.
    """
    if not leaf_hashes:
        return EMPTY_ROOT
    level = list(leaf_hashes)
    sha = _sha256
    while len(level) > 1:
        nxt = [sha(b"\x01" + level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)]
        if len(level) & 1:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def root(leaves: Sequence[bytes]) -> bytes:
    """Merkle Tree Hash MTH(D[n]) of raw leaf data (RFC 9162 section 2.1.1)."""
    return root_of_hashes([hash_leaf(leaf) for leaf in leaves])


def _check_hash(value: bytes, what: str) -> None:
    if not isinstance(value, bytes) or len(value) != HASH_SIZE:
        raise VerificationError(f"{what} must be {HASH_SIZE} bytes")


def _check_proof(proof: Sequence[bytes], expected_len: int) -> None:
    if len(proof) != expected_len:
        raise VerificationError(f"wrong proof length {len(proof)}, want {expected_len}")
    for i, node in enumerate(proof):
        _check_hash(node, f"proof[{i}]")


def _decompose(index: int, size: int) -> tuple[int, int]:
    """Split a path into its ``inner`` part (below the fork) and its right ``border`` part."""
    inner = (index ^ (size - 1)).bit_length()
    border = (index >> inner).bit_count()
    return inner, border


def _chain_inner(seed: bytes, proof: Sequence[bytes], index: int) -> bytes:
    for i, node in enumerate(proof):
        seed = hash_children(seed, node) if (index >> i) & 1 == 0 else hash_children(node, seed)
    return seed


def _chain_inner_right(seed: bytes, proof: Sequence[bytes], index: int) -> bytes:
    for i, node in enumerate(proof):
        if (index >> i) & 1:
            seed = hash_children(node, seed)
    return seed


def _chain_border_right(seed: bytes, proof: Sequence[bytes]) -> bytes:
    for node in proof:
        seed = hash_children(node, seed)
    return seed


def root_from_inclusion_proof(
    *, index: int, size: int, leaf_hash: bytes, proof: Sequence[bytes]
) -> bytes:
    """Root implied by an inclusion proof (RFC 9162 section 2.1.3.2), after strict checks."""
    if not 0 <= index < size:
        raise VerificationError(f"index {index} is not below size {size}")
    _check_hash(leaf_hash, "leaf hash")
    inner, border = _decompose(index, size)
    _check_proof(proof, inner + border)
    res = _chain_inner(leaf_hash, proof[:inner], index)
    return _chain_border_right(res, proof[inner:])


def verify_inclusion(
    *, index: int, size: int, leaf_hash: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that ``leaf_hash`` sits at ``index`` of the tree of ``size`` with ``root``.

    RFC 9162 section 2.1.3.2.  Raises :class:`VerificationError` on any failure.
    """
    _check_hash(root, "root")
    calculated = root_from_inclusion_proof(index=index, size=size, leaf_hash=leaf_hash, proof=proof)
    if calculated != root:
        raise VerificationError("inclusion proof does not lead to the root")


def verify_consistency(
    *, size1: int, size2: int, root1: bytes, root2: bytes, proof: Sequence[bytes]
) -> None:
    """Check that the tree (size2, root2) extends (size1, root1).

    RFC 9162 section 2.1.4.2 for ``0 < size1 < size2``; see the module docstring for the
    ``size1 = 0`` and ``size1 = size2`` policy.  Raises :class:`VerificationError`.
    """
    _check_hash(root1, "root1")
    _check_hash(root2, "root2")
    if size1 < 0 or size2 < size1:
        raise VerificationError(f"size2 ({size2}) < size1 ({size1})")
    if size1 == 0:
        raise VerificationError("a consistency proof from the empty tree is not accepted")
    if size1 == size2:
        if proof:
            raise VerificationError("size1 == size2 needs an empty proof")
        if root1 != root2:
            raise VerificationError("size1 == size2 but the roots differ")
        return
    inner, border = _decompose(size1 - 1, size2)
    shift = (size1 & -size1).bit_length() - 1  # trailing zeros of size1
    inner -= shift
    # The proof starts with the hash of the 2^shift subtree, unless size1 is that subtree.
    if size1 == 1 << shift:
        seed, start = root1, 0
    else:
        if not proof:
            raise VerificationError("empty consistency proof")
        seed, start = proof[0], 1
    _check_proof(proof, start + inner + border)
    rest = proof[start:]
    mask = (size1 - 1) >> shift
    hash1 = _chain_border_right(_chain_inner_right(seed, rest[:inner], mask), rest[inner:])
    if hash1 != root1:
        raise VerificationError("consistency proof does not lead to root1")
    hash2 = _chain_border_right(_chain_inner(seed, rest[:inner], mask), rest[inner:])
    if hash2 != root2:
        raise VerificationError("consistency proof does not lead to root2")

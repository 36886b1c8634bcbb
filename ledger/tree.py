"""Incremental RFC 9162 Merkle tree with proofs at any past size, and a streaming root.

:class:`MerkleTree` keeps one ``bytearray`` per level holding the hashes of every *complete*
subtree of that level (level ``k`` holds ``size >> k`` hashes of 32 bytes, node ``j`` covering
leaves ``[j * 2**k, (j + 1) * 2**k)``).  Complete subtrees never change as the log grows, so an
append is O(log n) (amortised O(1)) hashes with no rebuild, and the tree of any past size is a
fold of at most ``log2(size)`` stored complete subtrees (RFC 9162 section 2.1.1: the tree over
``n`` leaves is its complete left subtrees followed by the tree of the remainder).

Proof generation follows RFC 9162 section 2.1.3.1 (PATH) and 2.1.4.1 (SUBPROOF).  A path walks
from the leaf upward; each sibling is either a stored complete subtree or the one "ephemeral"
right-border node ``[start, size)``, folded from stored subtrees.  Storage is 64 bytes per leaf.

:class:`RootAccumulator` computes only the root, in O(log n) memory, for the offline verifier.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from ledger.merkle import EMPTY_ROOT, HASH_SIZE, hash_children, hash_leaf

__all__ = ["MerkleTree", "RootAccumulator", "hash_leaves", "perfect_root"]

_sha256 = hashlib.sha256
# SHA-256 states that have absorbed the RFC 9162 domain-separation prefix. Copying one is
# cheaper than starting a new hash (OpenSSL skips the digest set-up) and spares concatenating
# the prefix: ~25% less time per node hash, a few percent per leaf hash.
_LEAF_STATE = _sha256(b"\x00")
_NODE_STATE = _sha256(b"\x01")


def hash_leaves(leaves: Iterable[bytes]) -> list[bytes]:
    """Leaf hashes of many entries at once (RFC 9162 section 2.1.1, batched for speed)."""
    fresh = _LEAF_STATE.copy
    out: list[bytes] = []
    append = out.append
    for leaf in leaves:
        h = fresh()
        h.update(leaf)
        append(h.digest())
    return out


def _pair_up(nodes: Sequence[bytes]) -> list[bytes]:
    """Parents of consecutive pairs ``(nodes[0], nodes[1]), ...``; a lone last node is dropped."""
    fresh = _NODE_STATE.copy
    out: list[bytes] = []
    append = out.append
    for left, right in zip(nodes[0::2], nodes[1::2], strict=False):  # odd: last waits
        h = fresh()
        h.update(left)
        h.update(right)
        append(h.digest())
    return out


def perfect_root(leaf_hashes: Sequence[bytes]) -> bytes:
    """Root of a complete tree whose leaf count is a power of two."""
    nodes = list(leaf_hashes)
    while len(nodes) > 1:
        nodes = _pair_up(nodes)
    return nodes[0]


class MerkleTree:
    """Append-only RFC 9162 tree: O(log n) append, roots and proofs for any size <= ``size``."""

    __slots__ = ("_levels", "_size")

    def __init__(self) -> None:
        self._levels: list[bytearray] = [bytearray()]
        self._size = 0

    @property
    def size(self) -> int:
        """Number of leaves appended so far."""
        return self._size

    def append(self, leaf: bytes) -> int:
        """Append raw leaf data; return its index."""
        return self.append_hash(hash_leaf(leaf))

    def append_hash(self, leaf_hash: bytes) -> int:
        """Append an already leaf-hashed entry; return its index."""
        if len(leaf_hash) != HASH_SIZE:
            raise ValueError("leaf hash must be 32 bytes")
        index = self._size
        levels = self._levels
        levels[0] += leaf_hash
        k = 0
        while (index >> k) & 1:  # this node is a right child: its parent is now complete
            parent = _sha256(b"\x01" + levels[k][-64:]).digest()
            if k + 1 == len(levels):
                levels.append(bytearray())
            levels[k + 1] += parent
            k += 1
        self._size = index + 1  # last, so a concurrent reader never sees missing nodes
        return index

    def extend(self, leaves: Iterable[bytes]) -> None:
        """Append many raw leaves."""
        self.extend_hashes(hash_leaves(leaves))

    def extend_hashes(self, leaf_hashes: Sequence[bytes]) -> None:
        """Append many leaf hashes, completing parents level by level in batches."""
        nodes = list(leaf_hashes)
        if nodes and set(map(len, nodes)) != {HASH_SIZE}:
            raise ValueError("leaf hashes must be 32 bytes")
        old, count = self._size, len(nodes)
        levels = self._levels
        k = 0
        while nodes:  # ``nodes``: the new complete subtrees of level k, left to right
            if k == len(levels):
                levels.append(bytearray())
            stored = old >> k
            # An odd stored count leaves a left child waiting for the first new node.
            pairs = [bytes(levels[k][-HASH_SIZE:]), *nodes] if stored & 1 else nodes
            levels[k] += b"".join(nodes)
            nodes = _pair_up(pairs)
            k += 1
        self._size = old + count

    def leaf_hash(self, index: int) -> bytes:
        """Stored leaf hash at ``index``."""
        if not 0 <= index < self._size:
            raise IndexError(f"leaf index {index} out of range for size {self._size}")
        return self._node(0, index)

    def leaf_hashes(self, start: int, end: int) -> bytes:
        """The stored leaf hashes of ``start .. end - 1``, concatenated."""
        if not 0 <= start <= end <= self._size:
            raise IndexError(f"range [{start}, {end}) outside [0, {self._size})")
        return bytes(self._levels[0][start * HASH_SIZE : end * HASH_SIZE])

    def subtree_hashes(self, height: int, start: int, end: int) -> bytes:
        """Hashes of the complete subtrees of ``2**height`` leaves ``start .. end - 1`` (the
        ``i``-th spans leaves ``i * 2**height`` up to ``(i + 1) * 2**height``), concatenated;
        only subtrees already complete exist."""
        count = self._size >> height
        if height < 0 or not 0 <= start <= end <= count:
            raise IndexError(f"subtrees [{start}, {end}) of height {height} outside [0, {count})")
        if height >= len(self._levels):
            return b""
        return bytes(self._levels[height][start * HASH_SIZE : end * HASH_SIZE])

    def _node(self, level: int, index: int) -> bytes:
        offset = index * HASH_SIZE
        return bytes(self._levels[level][offset : offset + HASH_SIZE])

    def _range_hash(self, start: int, end: int) -> bytes:
        """MTH(D[start:end]) for a range that is a node of some RFC tree.

        Precondition: ``start`` is a multiple of the bit-ceiling of ``end - start``; such a range
        is a fold of its greedy complete subtrees (RFC 9162 section 2.1.1 split rule).
        """
        parts: list[bytes] = []
        while start < end:
            level = (end - start).bit_length() - 1
            parts.append(self._node(level, start >> level))
            start += 1 << level
        acc = parts[-1]
        for node in reversed(parts[:-1]):
            acc = hash_children(node, acc)
        return acc

    def _check_size(self, size: int | None) -> int:
        if size is None:
            return self._size
        if not 0 <= size <= self._size:
            raise ValueError(f"size {size} is beyond the tree size {self._size}")
        return size

    def root(self, size: int | None = None) -> bytes:
        """MTH of the first ``size`` leaves (default: all) -- RFC 9162 section 2.1.1."""
        size = self._check_size(size)
        return self._range_hash(0, size) if size else EMPTY_ROOT

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """PATH(index, D[size]) (RFC 9162 section 2.1.3.1), hashes from the leaf upward."""
        size = self._check_size(size)
        if not 0 <= index < size:
            raise ValueError(f"index {index} is not below size {size}")
        proof: list[bytes] = []
        level, i = 0, index
        while i or (1 << level) < size:  # until node (level, i) covers [0, size)
            sibling = i ^ 1
            start = sibling << level
            if start < size:  # a sibling past the end means this node is promoted as is
                end = start + (1 << level)
                if end <= size:
                    proof.append(self._node(level, sibling))
                else:
                    proof.append(self._range_hash(start, size))
            i >>= 1
            level += 1
        return proof

    def consistency_proof(self, old: int, new: int | None = None) -> list[bytes]:
        """PROOF(old, D[new]) (RFC 9162 section 2.1.4.1) for ``0 < old <= new <= size``."""
        new = self._check_size(new)
        if not 0 < old <= new:
            raise ValueError(f"consistency proof needs 0 < old <= new, got {old}, {new}")
        proof: list[bytes] = []
        start, end, whole = 0, new, True  # SUBPROOF(old - start, D[start:end], whole)
        while True:
            n, m = end - start, old - start
            if m == n:
                if not whole:
                    proof.append(self._range_hash(start, end))
                break
            k = 1 << ((n - 1).bit_length() - 1)  # largest power of two below n
            if m <= k:
                proof.append(self._range_hash(start + k, end))
                end = start + k
            else:
                proof.append(self._range_hash(start, start + k))
                start += k
                whole = False
        proof.reverse()  # SUBPROOF appends the deeper parts first
        return proof


class RootAccumulator:
    """Streaming MTH: the compact range of complete subtrees, O(log n) memory."""

    __slots__ = ("_size", "_stack")

    def __init__(self) -> None:
        self._stack: list[tuple[int, bytes]] = []  # (level, hash), levels strictly decreasing
        self._size = 0

    @property
    def size(self) -> int:
        """Number of leaf hashes consumed."""
        return self._size

    def extend_hashes(self, leaf_hashes: Sequence[bytes]) -> None:
        """Consume leaf hashes, in aligned power-of-two pieces hashed level by level."""
        pos, total = 0, len(leaf_hashes)
        while pos < total:
            piece = 1 << ((total - pos).bit_length() - 1)
            if self._size:
                piece = min(piece, self._size & -self._size)  # keep pieces aligned
            self._push(piece.bit_length() - 1, perfect_root(leaf_hashes[pos : pos + piece]))
            pos += piece
            self._size += piece

    def _push(self, level: int, node: bytes) -> None:
        stack = self._stack
        while stack and stack[-1][0] == level:
            node = hash_children(stack.pop()[1], node)
            level += 1
        stack.append((level, node))

    def root(self) -> bytes:
        """MTH of everything consumed so far."""
        if not self._stack:
            return EMPTY_ROOT
        acc = self._stack[-1][1]
        for _, node in reversed(self._stack[:-1]):
            acc = hash_children(node, acc)
        return acc

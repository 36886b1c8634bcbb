"""The durable ledger: an append-only leaf file, its Merkle tree and signed checkpoints.

Data folder::

    leaves.bin   append-only records (ledger.records)
    checkpoint   the latest signed C2SP checkpoint (replaced atomically)
    lock         flock'ed by the single writer process

Durability: :meth:`Ledger.append` returns after the record has been ``write``n to the file, so
an acknowledged append survives the process being killed (``kill -9``).  Power-loss durability
comes with :meth:`Ledger.checkpoint` (and :meth:`Ledger.sync`): the leaf file is fsync'ed
*before* its tree is signed, so a signed checkpoint never covers a leaf that could be lost.

Reopening rescans the leaf file and rebuilds the tree (about as fast as appending), truncates a
torn unsigned tail (``ledger.records``), and refuses to open a folder whose leaves contradict
the signed checkpoint.  :meth:`Ledger.checkpoint` re-reads the stored checkpoint and refuses
(:class:`~ledger.errors.NonExtensionError`) to sign a tree that does not extend it: same
origin, size not smaller, and the root of the old size equal to the old root (RFC 9162
section 2.1.4: the old tree is a prefix of the new one).  There is deliberately no public way to
truncate or roll back.

Never sign what was not re-derived: before a checkpoint covers new leaves, each is read back from
the *file* (not memory), its hash compared with the tree's, and handed to the ``leaf_check``
the owner installed (the registry's follower re-derives every leaf from the stored event it
encodes); a ledger without a ``leaf_check`` signs what it holds, as a bare log does.  A
mismatch raises :class:`~ledger.errors.LeafMismatchError` naming the index, is logged as an
error, and nothing is signed.  A torn tail cut off on reopen is logged with what
was dropped, and its bytes are kept in ``torn/`` inside the folder.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from itertools import repeat
from pathlib import Path
from types import TracebackType

from ledger.checkpoint import Checkpoint, read_checkpoint_unverified, sign_checkpoint
from ledger.errors import (
    LeafMismatchError,
    LedgerConfigError,
    LedgerCorruptError,
    LedgerLockedError,
    NonExtensionError,
)
from ledger.fsutil import atomic_write_bytes
from ledger.merkle import hash_leaf
from ledger.note import Signer, parse_note
from ledger.records import RecordFile, TornTail
from ledger.tiles import TILE_WIDTH, TileError, TilePath, encode_bundle, tile_path
from ledger.tree import MerkleTree, hash_leaves

__all__ = ["CHECKPOINT_FILE", "LEAVES_FILE", "TORN_DIR", "LeafCheck", "Ledger"]

LEAVES_FILE = "leaves.bin"
CHECKPOINT_FILE = "checkpoint"
LOCK_FILE = "lock"
TORN_DIR = "torn"
_CHECK_CHUNK = 4096

log = logging.getLogger("ledger")

LeafCheck = Callable[[int, Sequence[bytes]], None]
"""``check(first_index, leaves)``: raise :class:`LeafMismatchError` for a leaf that is not what
the system of record says it should be (leaves are consecutive, as read from the file)."""


class Ledger:
    """A single-writer, append-only, signed Merkle log stored in ``directory``."""

    def __init__(self, directory: str | os.PathLike[str], *, origin: str, signer: Signer,
                 leaf_check: LeafCheck | None = None) -> None:
        self._dir = Path(directory)
        self._dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # private, as its files
        self._origin, self._signer = origin, signer
        self._leaf_check = leaf_check
        self._checked = 0  # leaves below this were read back and checked (or are signed)
        self._signed_size = 0
        self.torn_path: Path | None = None  # where a torn tail cut off at open was kept
        self._mutex = threading.RLock()
        self._lock_fd = self._take_lock()
        self._tree = MerkleTree()
        try:
            self._records = RecordFile(self._dir / LEAVES_FILE)
        except BaseException:
            os.close(self._lock_fd)
            raise
        try:
            self._load()
        except BaseException:
            self.close()
            raise

    def _load(self) -> None:
        last = self._last_signed()
        if last is not None and last.origin != self._origin:
            raise LedgerConfigError(f"folder holds log {last.origin!r}, not {self._origin!r}")
        self._records.recover(protected=last.size if last else 0, sink=self._tree.extend_hashes)
        if last is not None and not self._extends(last):
            raise LedgerCorruptError("leaf file does not match the signed checkpoint")
        self._checked = self._signed_size = last.size if last else 0
        if self._records.torn_tail is not None:
            self._report_torn(self._records.torn_tail)

    def _report_torn(self, torn: TornTail) -> None:
        """Keep the dropped bytes and say what was dropped: the repair is never silent."""
        folder = self._dir / TORN_DIR
        folder.mkdir(exist_ok=True)
        path = folder / f"leaf-{torn.at_index}-byte-{torn.at_byte}.bin"
        n = 0
        while path.exists():  # the same cut twice (e.g. torn again after a restart)
            n += 1
            path = folder / f"leaf-{torn.at_index}-byte-{torn.at_byte}.{n}.bin"
        atomic_write_bytes(path, torn.data)
        log.warning("ledger %s: cut a torn unsigned tail of %d bytes at leaf %d (byte %d); "
                    "the dropped bytes are kept in %s; the follower re-appends those events "
                    "from the store", self._dir, len(torn.data), torn.at_index, torn.at_byte,
                    path)
        self.torn_path = path

    def _take_lock(self) -> int:
        fd = os.open(self._dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            os.close(fd)
            raise LedgerLockedError(f"{self._dir} is in use by another process") from exc
        return fd

    # -- reading ------------------------------------------------------------------------------

    @property
    def directory(self) -> Path:
        """The ledger's data folder."""
        return self._dir

    @property
    def origin(self) -> str:
        """The checkpoint origin line of this log."""
        return self._origin

    @property
    def vkey(self) -> str:
        """The verifier key of the current signing key."""
        return self._signer.vkey

    @property
    def size(self) -> int:
        """Number of leaves appended."""
        return self._tree.size

    @property
    def dropped_bytes(self) -> int:
        """Bytes of a torn unsigned tail cut off when this ledger was opened."""
        return self._records.dropped_bytes

    @property
    def torn_tail(self) -> TornTail | None:
        """What was cut off when this ledger was opened (index, byte offset, bytes)."""
        return self._records.torn_tail

    @property
    def signed_size(self) -> int:
        """The size of the latest signed checkpoint (0 before the first); kept in memory, as
        this process is the folder's only writer."""
        return self._signed_size

    def set_leaf_check(self, check: LeafCheck | None) -> None:
        """Install the re-derivation every new leaf must pass before it is signed."""
        with self._mutex:
            self._leaf_check = check

    def root(self, size: int | None = None) -> bytes:
        """RFC 9162 root of the first ``size`` leaves (default: all)."""
        with self._mutex:
            return self._tree.root(size)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """RFC 9162 section 2.1.3 inclusion proof of leaf ``index`` in the tree of ``size``."""
        with self._mutex:
            return self._tree.inclusion_proof(index, size)

    def consistency_proof(self, old: int, new: int | None = None) -> list[bytes]:
        """RFC 9162 section 2.1.4 consistency proof from ``old`` to ``new`` (default: size)."""
        with self._mutex:
            return self._tree.consistency_proof(old, new)

    def leaf(self, index: int) -> bytes:
        """The exact bytes of leaf ``index`` (checked against its leaf hash)."""
        with self._mutex:
            leaf = next(self._records.read_range(index, index + 1))
            if hash_leaf(leaf) != self._tree.leaf_hash(index):
                raise LedgerCorruptError(f"leaf {index} no longer matches its hash")
            return leaf

    def tile(self, tile: TilePath) -> bytes:
        """A C2SP tlog-tiles tile (or entry bundle) within the latest signed checkpoint.

        Raises :class:`~ledger.tiles.TileError` for a tile reaching past the signed size."""
        with self._mutex:
            if tile.leaves_needed() > self._signed_size:
                raise TileError(f"{tile_path(tile)} needs a signed tree of "
                                f"{tile.leaves_needed()} leaves; the checkpoint signs "
                                f"{self._signed_size}")
            if tile.level is None:
                first = tile.index * TILE_WIDTH
                return encode_bundle(list(self._records.read_range(first, first + tile.width)),
                                     first)
            start = tile.index * TILE_WIDTH
            return self._tree.subtree_hashes(8 * tile.level, start, start + tile.width)

    def leaf_hash(self, index: int) -> bytes:
        """The RFC 9162 leaf hash of leaf ``index``."""
        with self._mutex:
            return self._tree.leaf_hash(index)

    def leaves(self, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """Leaves ``start .. end - 1`` in index order (``end`` is fixed when called)."""
        with self._mutex:
            stop = self.size if end is None else end
            return self._records.read_range(start, stop)

    def latest_checkpoint(self) -> str | None:
        """The latest signed checkpoint note, or ``None`` before the first one."""
        path = self._dir / CHECKPOINT_FILE
        return path.read_text(encoding="utf-8") if path.exists() else None

    # -- writing ------------------------------------------------------------------------------

    def append(self, leaf: bytes) -> int:
        """Append one leaf; return its index once written to the file."""
        return self.append_many([leaf]).start

    def append_many(self, leaves: Sequence[bytes]) -> range:
        """Append leaves in order with one write; return their index range."""
        if not all(map(isinstance, leaves, repeat(bytes))):
            raise TypeError("leaves must be bytes")
        with self._mutex:
            first = self._tree.size
            hashes = hash_leaves(leaves)
            self._records.append(leaves, hashes)  # the file first: memory never runs ahead
            self._tree.extend_hashes(hashes)
            return range(first, first + len(leaves))

    def sync(self) -> None:
        """Make every appended leaf durable against power loss."""
        with self._mutex:
            self._records.sync()

    def checkpoint(self) -> str:
        """fsync the leaves, then sign and store a checkpoint of the current size.

        Raises :class:`NonExtensionError` if the tree does not extend the stored checkpoint and
        :class:`LeafMismatchError` if a new leaf fails its check (nothing is signed then).
        """
        with self._mutex:
            self._records.sync()
            last = self._last_signed()
            if last is not None and not self._extends(last):
                raise NonExtensionError(
                    f"tree of size {self.size} does not extend the signed size {last.size}"
                )
            current = self.latest_checkpoint()
            if last is not None and last.size == self.size and current is not None and \
                    self._signed_by_us(current):
                return current  # nothing new: keep it, and the cosignatures it carries
            try:
                self._check_new_leaves()
            except LeafMismatchError as exc:
                log.error("ledger %s: refusing to sign a checkpoint of size %d: %s",
                          self._dir, self.size, exc)
                raise
            body = Checkpoint(self._origin, self.size, self._tree.root())
            note = sign_checkpoint(checkpoint=body, signer=self._signer)
            atomic_write_bytes(self._dir / CHECKPOINT_FILE, note.encode("utf-8"), mode=0o600)
            self._signed_size = body.size
            return note

    def add_cosignatures(self, note: str, lines: Sequence[str]) -> bool:
        """Publish witnesses' cosignature lines with the stored checkpoint ``note`` (appended
        to it); False, and nothing changed, if ``note`` is no longer the latest checkpoint.
        The lines are not checked here: clients verify the ones of witnesses they name."""
        with self._mutex:
            current = self.latest_checkpoint()
            if current is None or current.split("\n\n")[0] != note.split("\n\n", maxsplit=1)[0]:
                return False
            fresh = [line for line in lines if line and line not in current]
            if fresh:
                text = current + "".join(line if line.endswith("\n") else line + "\n"
                                         for line in fresh)
                read_checkpoint_unverified(text)  # still a well-formed note
                atomic_write_bytes(self._dir / CHECKPOINT_FILE, text.encode("utf-8"))
            return True

    def _signed_by_us(self, note: str) -> bool:
        """Whether ``note`` carries a signature line of the current key (not after rotation)."""
        _, sigs = parse_note(note)
        return any((sig.name, sig.key_hash) == (self._signer.key_name, self._signer.key_hash)
                   for sig in sigs)

    def _check_new_leaves(self) -> None:
        """Read back every leaf not yet checked, from the file, and check it.

        Only with a ``leaf_check``: a bare ledger (tests, benchmarks) has nothing to re-derive
        from, and reading back costs as much as the append did."""
        if self._leaf_check is None:
            return
        size = self.size
        for lo in range(self._checked, size, _CHECK_CHUNK):
            hi = min(size, lo + _CHECK_CHUNK)
            leaves = list(self._records.read_range(lo, hi))
            digests = hash_leaves(leaves)
            if b"".join(digests) != self._tree.leaf_hashes(lo, hi):
                bad = next(lo + i for i, d in enumerate(digests)
                           if d != self._tree.leaf_hash(lo + i))
                raise LeafMismatchError(bad, "the leaf file no longer holds the leaf that was "
                                        "appended")
            self._leaf_check(lo, leaves)
            self._checked = hi

    def _last_signed(self) -> Checkpoint | None:
        note = self.latest_checkpoint()
        return None if note is None else read_checkpoint_unverified(note)

    def _extends(self, last: Checkpoint) -> bool:
        return (
            last.origin == self._origin
            and last.size <= self._tree.size
            and self._tree.root(last.size) == last.root
        )

    # -- lifecycle ----------------------------------------------------------------------------

    def close(self) -> None:
        """Release the file and the folder lock."""
        with self._mutex:
            self._records.close()
            if self._lock_fd >= 0:
                os.close(self._lock_fd)
                self._lock_fd = -1

    def __enter__(self) -> Ledger:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

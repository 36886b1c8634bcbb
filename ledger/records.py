"""The append-only leaf file: length-prefixed, self-checking records and their offset index.

Layout: the 10-byte magic ``SRLEAVES\\x01\\n``, then one record per leaf::

    length (uint32 BE) || check (first 4 bytes of the RFC 9162 leaf hash) || leaf bytes

The check reuses the leaf hash the tree needs anyway, so it costs nothing to write or to verify
on reopen, and a zero-filled region (what a file system may expose after a crash while
extending a file) never parses as valid records: the leaf hash of the empty leaf starts
``6e340b9c``.  Record offsets live in memory (8 bytes per leaf), rebuilt by the scan at open.

Recovery rule: the scan stops at the first record that is incomplete, oversized or fails its
check.  If that record lies past the ``protected`` prefix (the leaves covered by the last signed
checkpoint, which were fsync'ed before signing) the tail is a torn write that was never durable:
it is truncated and the dropped byte count kept in ``dropped_bytes``.  Damage inside the
protected prefix raises :class:`~ledger.errors.LedgerCorruptError`.
"""

from __future__ import annotations

import hashlib
import mmap
import os
import struct
import threading
from array import array
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path

from ledger.errors import LedgerCorruptError, LedgerError

__all__ = ["MAGIC", "MAX_LEAF_SIZE", "RecordFile", "TornTail", "encode_records"]

MAGIC = b"SRLEAVES\x01\n"
MAX_LEAF_SIZE = 1 << 24
_HEADER = struct.Struct(">I4s")
_BATCH = 1 << 16
_SYNC_AHEAD = 8 << 20  # start a background fdatasync after this many unsynced bytes


@dataclass(frozen=True)
class TornTail:
    """What :meth:`RecordFile.recover` cut off: the unsigned tail after the last good record.

    ``at_index`` is the index the first dropped record would have had, ``at_byte`` its offset,
    ``data`` the exact bytes dropped (kept so an operator can see what was lost)."""

    at_index: int
    at_byte: int
    data: bytes


def encode_records(leaves: Sequence[bytes], leaf_hashes: Sequence[bytes]) -> bytes:
    """The on-disk bytes of ``leaves`` (with their leaf hashes) as consecutive records."""
    parts: list[bytes] = [b""] * (2 * len(leaves))
    parts[0::2] = list(map(_HEADER.pack, map(len, leaves), leaf_hashes))
    parts[1::2] = leaves
    return b"".join(parts)


class RecordFile:
    """One writer's handle on the leaf file (the caller holds the folder lock)."""

    def __init__(self, path: Path) -> None:
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        self._offsets = array("Q", [len(MAGIC)])  # offsets[i] = start of record i; last = end
        self._broken = False
        self.dropped_bytes = 0
        self.torn_tail: TornTail | None = None
        self._unsynced = 0
        self._flusher: threading.Thread | None = None
        self._flush_error: OSError | None = None

    @property
    def count(self) -> int:
        """Number of complete records."""
        return len(self._offsets) - 1

    def _check_magic(self, end: int) -> None:
        head = os.pread(self._fd, len(MAGIC), 0)
        if end < len(MAGIC) and MAGIC.startswith(head):  # new file, or torn at creation
            os.ftruncate(self._fd, 0)
            os.write(self._fd, MAGIC)
            os.fsync(self._fd)
        elif head != MAGIC:
            raise LedgerCorruptError("not a ledger leaf file (bad magic)")

    def recover(self, *, protected: int, sink: Callable[[list[bytes]], None]) -> None:
        """Scan every record, passing leaf *hashes* to ``sink`` in batches; cut a torn tail."""
        end = os.fstat(self._fd).st_size
        self._check_magic(end)
        bad = self._scan(end, sink) if end > len(MAGIC) else None
        if bad is None:
            return
        if self.count < protected:
            raise LedgerCorruptError(
                f"leaf {self.count} (byte {bad}) is damaged inside the signed prefix"
            )
        dropped = os.pread(self._fd, end - bad, bad)
        os.ftruncate(self._fd, bad)
        os.fsync(self._fd)
        self.dropped_bytes = end - bad
        self.torn_tail = TornTail(at_index=self.count, at_byte=bad, data=dropped)

    def _scan(self, end: int, sink: Callable[[list[bytes]], None]) -> int | None:
        unpack, sha, header = _HEADER.unpack_from, hashlib.sha256, _HEADER.size
        offsets, batch = self._offsets, []
        pos, bad = len(MAGIC), None
        with mmap.mmap(self._fd, end, access=mmap.ACCESS_READ) as mm:
            while pos < end:
                if end - pos < header:
                    bad = pos
                    break
                length, check = unpack(mm, pos)
                stop = pos + header + length
                if length > MAX_LEAF_SIZE or stop > end:
                    bad = pos
                    break
                digest = sha(b"\x00" + mm[pos + header : stop]).digest()
                if digest[:4] != check:
                    bad = pos
                    break
                batch.append(digest)
                offsets.append(stop)
                pos = stop
                if len(batch) == _BATCH:
                    sink(batch)
                    batch = []
        sink(batch)
        return bad

    def append(self, leaves: Sequence[bytes], leaf_hashes: Sequence[bytes]) -> None:
        """Write records for ``leaves`` (one ``write`` per call); undo a partial write."""
        if self._broken:
            raise LedgerError("leaf file is in an unknown state after a failed write; reopen")
        lengths = list(map(len, leaves))
        if lengths and max(lengths) > MAX_LEAF_SIZE:
            raise ValueError(f"a leaf exceeds {MAX_LEAF_SIZE} bytes")
        blob = encode_records(leaves, leaf_hashes)
        start = self._offsets[-1]
        try:
            view = memoryview(blob)
            while view:
                view = view[os.write(self._fd, view) :]
        except BaseException:
            self._undo(start)
            raise
        ends = accumulate(map(_HEADER.size.__add__, lengths), initial=start)
        next(ends)  # ``start`` itself is already the last offset
        self._offsets.extend(ends)
        self._unsynced += len(blob)
        if self._unsynced >= _SYNC_AHEAD and not (self._flusher and self._flusher.is_alive()):
            self._start_flush()

    def _start_flush(self) -> None:
        """Write back dirty pages on another core so the checkpoint's fsync finds little left.

        Only an optimisation: durability still comes from :meth:`sync`.  An error is kept and
        re-raised by :meth:`sync`, because Linux reports a failed write-back only once.
        """
        self._unsynced = 0
        fd = self._fd

        def flush() -> None:
            try:
                os.fdatasync(fd)
            except OSError as exc:
                self._flush_error = exc

        self._flusher = threading.Thread(target=flush, name="ledger-flush", daemon=True)
        self._flusher.start()

    def _join_flusher(self) -> None:
        if self._flusher is not None:
            self._flusher.join()
            self._flusher = None

    def _undo(self, start: int) -> None:
        try:
            os.ftruncate(self._fd, start)
        except OSError:
            self._broken = True

    def sync(self) -> None:
        """fsync the leaf file (after any background write-back, whose error it raises)."""
        self._join_flusher()
        if self._flush_error is not None:
            self._broken = True
            raise self._flush_error
        os.fsync(self._fd)
        self._unsynced = 0

    def read_range(self, start: int, end: int) -> Iterator[bytes]:
        """Leaves ``start .. end - 1`` in order, read in large sequential chunks.

        Framing is checked here; content is checked against the tree by the caller or, for
        exports, by the verifier's root.
        """
        if not 0 <= start <= end <= self.count:
            raise IndexError(f"range [{start}, {end}) outside [0, {self.count})")
        offsets, unpack, header = self._offsets, _HEADER.unpack_from, _HEADER.size
        for lo in range(start, end, 4096):
            hi = min(lo + 4096, end)
            base = offsets[lo]
            data = os.pread(self._fd, offsets[hi] - base, base)
            if len(data) != offsets[hi] - base:
                raise LedgerCorruptError(f"leaf file is shorter than leaf {hi - 1} needs")
            for i in range(lo, hi):
                pos = offsets[i] - base
                length = unpack(data, pos)[0]
                if pos + header + length != offsets[i + 1] - base:
                    raise LedgerCorruptError(f"leaf {i} is not where the index says")
                yield data[pos + header : pos + header + length]

    def close(self) -> None:
        """Close the file descriptor."""
        self._join_flusher()
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

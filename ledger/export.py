"""Export the ledger to a self-contained folder an auditor can verify offline.

Files (the ledger contract in DESIGN.md):

* ``checkpoint`` -- a freshly signed C2SP checkpoint (signed only after the leaves are durable);
* ``vkey`` -- the verifier key of the signing key, one line;
* ``entries.jsonl`` -- one line per leaf in index order,
  ``{"index": i, "leaf": "<base64 of the exact leaf bytes>"}``, optionally followed by extra
  keys from a caller-supplied ``decode(index, leaf)`` view (verifiers ignore them);
* ``leaf_hashes.bin`` -- optional and non-normative: the 32-byte RFC 9162 leaf hashes in index
  order.  A verifier never trusts it; after a root mismatch it may authenticate it against the
  signed root and use it to name the first tampered index (:mod:`ledger.verify`).

Every file is written to a temporary name and renamed; ``checkpoint`` is renamed last, so an
interrupted export is recognisable by its missing checkpoint.
"""

from __future__ import annotations

import binascii
import json
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import BinaryIO

from ledger.checkpoint import read_checkpoint_unverified
from ledger.fsutil import atomic_write_bytes, fsync_dir
from ledger.log import Ledger

__all__ = ["CHECKPOINT", "ENTRIES", "LEAF_HASHES", "VKEY", "export_ledger", "format_entry"]

CHECKPOINT, VKEY, ENTRIES, LEAF_HASHES = "checkpoint", "vkey", "entries.jsonl", "leaf_hashes.bin"
Decoder = Callable[[int, bytes], Mapping[str, object]]
Extra = Mapping[str, object] | None
Progress = Callable[[int], object]
_CHUNK = 8192


def format_entry(index: int, leaf: bytes, extra: Mapping[str, object] | None = None) -> bytes:
    """One ``entries.jsonl`` line (with newline); ``extra`` may not redefine index or leaf."""
    line = b'{"index": %d, "leaf": "%s"' % (index, binascii.b2a_base64(leaf, newline=False))
    if extra:
        if "index" in extra or "leaf" in extra:
            raise ValueError("extra keys may not redefine 'index' or 'leaf'")
        line += b", " + json.dumps(dict(extra), ensure_ascii=True)[1:-1].encode("ascii")
    return line + b"}\n"


def _write_entries(out: BinaryIO, leaves: Iterable[bytes | tuple[bytes, Extra]],
                   decode: Decoder | None, progress: Progress | None) -> None:
    b2a = binascii.b2a_base64
    lines: list[bytes] = []
    written = 0
    for index, item in enumerate(leaves):
        leaf, extra = item if isinstance(item, tuple) else (item, None)  # extra keys, if any
        if extra:
            lines.append(format_entry(index, leaf, extra))
        elif decode is None:
            lines.append(b'{"index": %d, "leaf": "%s"}\n' % (index, b2a(leaf, newline=False)))
        else:
            lines.append(format_entry(index, leaf, decode(index, leaf)))
        if len(lines) == _CHUNK:
            out.write(b"".join(lines))
            written += len(lines)
            lines.clear()
            if progress is not None:
                progress(written)
    out.write(b"".join(lines))
    if progress is not None:
        progress(written + len(lines))


def _write_hashes(out: BinaryIO, ledger: Ledger, size: int) -> None:
    for start in range(0, size, _CHUNK):
        out.write(b"".join(ledger.leaf_hash(i) for i in range(start, min(size, start + _CHUNK))))


def export_ledger(
    ledger: Ledger,
    directory: str | os.PathLike[str],
    *,
    decode: Decoder | None = None,
    leaves: Callable[[int], Iterable[bytes | tuple[bytes, Extra]]] | None = None,
    progress: Progress | None = None,
) -> str:
    """Sign a checkpoint of the current size and export exactly the leaves it covers.

    ``leaves(size)``, when given, supplies the entries instead of the ledger's own leaf file --
    e.g. leaves re-derived from the system of record, so that the verifier checks *that*
    against the signed tree; an item may be ``(leaf, extra)`` to add keys to its line (the
    openings of a leaf's sealed parts). ``leaf_hashes.bin`` always comes from the ledger itself.
    Returns the checkpoint note written to ``directory/checkpoint``.
    """
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    note = ledger.checkpoint()
    size = read_checkpoint_unverified(note).size
    (target / CHECKPOINT).unlink(missing_ok=True)  # an unfinished export has no checkpoint
    tmp_entries, tmp_hashes = target / f".{ENTRIES}.tmp", target / f".{LEAF_HASHES}.tmp"
    source = ledger.leaves(0, size) if leaves is None else leaves(size)
    with open(tmp_entries, "wb") as out, open(tmp_hashes, "wb") as hashes:
        _write_entries(out, source, decode, progress)
        _write_hashes(hashes, ledger, size)
        for handle in (out, hashes):
            handle.flush()
            os.fsync(handle.fileno())
    os.replace(tmp_entries, target / ENTRIES)
    os.replace(tmp_hashes, target / LEAF_HASHES)
    fsync_dir(target)
    atomic_write_bytes(target / VKEY, (ledger.vkey + "\n").encode("utf-8"))
    atomic_write_bytes(target / CHECKPOINT, note.encode("utf-8"))
    return note

"""Offline verification of an export folder, trusting nothing but a verifier key.

:func:`verify_export` checks, in order:

1. ``signature`` -- ``checkpoint`` is a C2SP checkpoint signed by ``vkey`` (the caller's pinned
   key; when omitted, the export's own ``vkey`` file, which the report flags);
2. ``previous-*`` -- an earlier checkpoint (a signed note, verified with ``previous_vkey`` or the
   same key) has the same origin and a size not above the export's;
3. ``entry`` / ``index`` -- every line of ``entries.jsonl`` is strict JSON with an integer
   ``index`` and a canonical-base64 ``leaf``, indexes are contiguous from 0, and there are
   exactly ``size`` lines (extra keys are ignored; duplicate keys are rejected);
4. ``consistency`` -- the RFC 9162 root of the first ``previous.size`` leaves, recomputed from
   the entries, equals the earlier checkpoint's root (no proof needed: we hold the leaves);
5. ``root`` -- the root recomputed from every leaf equals the checkpoint's root.

A failure raises :class:`ExportVerificationError` naming the check and, when known, the first
bad index.  For a root mismatch the optional ``leaf_hashes.bin`` is used, *only after its own
root matches the signed one*, to name the first leaf whose hash differs.

Lines written by :mod:`ledger.export` (exactly ``{"index": i, "leaf": "..."}``) take a fast
path that is equivalent to a JSON parse (the base64 alphabet holds no JSON escapes); any other
line goes through ``json.loads``.
"""

from __future__ import annotations

import binascii
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ledger.checkpoint import Checkpoint, verify_checkpoint
from ledger.encoding import b64decode_strict
from ledger.export import CHECKPOINT, ENTRIES, LEAF_HASHES, VKEY
from ledger.merkle import EMPTY_ROOT, HASH_SIZE, VerificationError
from ledger.note import parse_vkey
from ledger.tree import RootAccumulator, hash_leaves

__all__ = ["ExportVerificationError", "VerifyReport", "verify_export"]

_BATCH = 8192


class ExportVerificationError(VerificationError):
    """An export failed a check; ``check`` names it, ``index`` is the first bad entry if known."""

    def __init__(self, check: str, message: str, index: int | None = None) -> None:
        where = f" at index {index}" if index is not None else ""
        super().__init__(f"{check}{where}: {message}")
        self.check, self.index = check, index


@dataclass(frozen=True)
class VerifyReport:
    """What a successful verification established."""

    origin: str
    size: int
    root: bytes
    key_name: str
    vkey_from_export: bool
    previous_size: int | None
    key_id: str = ""  # ``<name>+<8 hex digits of the key hash>``: the key actually trusted


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError("duplicate key")
    return dict(pairs)


def _reject_constant(name: str) -> object:
    raise ValueError(f"non-standard JSON constant {name}")


def _slow_parse(line: bytes, expected: int) -> bytes:
    try:
        obj = json.loads(
            line.decode("utf-8"), object_pairs_hook=_no_duplicates, parse_constant=_reject_constant
        )
    except (UnicodeDecodeError, ValueError) as exc:
        raise ExportVerificationError(
            "entry", f"not a strict JSON object ({exc})", expected
        ) from exc
    if not isinstance(obj, dict):
        raise ExportVerificationError("entry", "not a JSON object", expected)
    index, leaf = obj.get("index"), obj.get("leaf")
    if type(index) is not int or not isinstance(leaf, str):
        raise ExportVerificationError("entry", "needs an integer index and a string leaf", expected)
    if index != expected:
        raise ExportVerificationError(
            "index", f"expected index {expected}, found {index}", expected
        )
    try:
        return b64decode_strict(leaf)
    except ValueError as exc:
        raise ExportVerificationError("entry", "leaf is not canonical base64", expected) from exc


def _leaf_batches(path: Path, size: int) -> Iterator[list[bytes]]:
    """Leaf bytes of ``entries.jsonl`` in batches, with format, contiguity and count checks."""
    a2b, b2a = binascii.a2b_base64, binascii.b2a_base64
    batch: list[bytes] = []
    expected = 0
    with open(path, "rb", buffering=1 << 20) as entries:
        for line in entries:
            if expected == size:
                raise ExportVerificationError("index", "entry beyond the checkpoint size", size)
            prefix = b'{"index": %d, "leaf": "' % expected
            leaf = None
            if line.startswith(prefix) and line.endswith(b'"}\n'):
                text = line[len(prefix) : -3]
                try:
                    leaf = a2b(text, strict_mode=True)
                except binascii.Error:
                    leaf = None
                if leaf is not None and b2a(leaf, newline=False) != text:
                    leaf = None
            batch.append(_slow_parse(line, expected) if leaf is None else leaf)
            expected += 1
            if len(batch) == _BATCH:
                yield batch
                batch = []
    yield batch  # the last batch first, so a caller can still compare what is there
    if expected != size:
        raise ExportVerificationError("index", f"entries end before size {size}", expected)


def _read_checkpoint(directory: Path, vkey: str | None) -> tuple[Checkpoint, str, bool]:
    try:
        note = (directory / CHECKPOINT).read_bytes()
        file_vkey = (directory / VKEY).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ExportVerificationError("files", str(exc)) from exc
    use = vkey if vkey is not None else file_vkey
    try:
        checkpoint = verify_checkpoint(note=note, vkey=use)
    except (VerificationError, ValueError) as exc:
        raise ExportVerificationError("signature", str(exc)) from exc
    return checkpoint, use, vkey is None


def _check_previous(note: str, vkey: str, current: Checkpoint) -> Checkpoint:
    try:
        previous = verify_checkpoint(note=note, vkey=vkey)
    except (VerificationError, ValueError) as exc:
        raise ExportVerificationError("previous-signature", str(exc)) from exc
    if previous.origin != current.origin:
        raise ExportVerificationError("previous-origin", "earlier checkpoint is for another log")
    if previous.size > current.size:
        raise ExportVerificationError(
            "previous-size", f"earlier size {previous.size} > export size {current.size}"
        )
    if previous.size == 0 and previous.root != EMPTY_ROOT:
        raise ExportVerificationError("consistency", "empty earlier tree with a non-empty root")
    return previous


def _first_bad_leaf(directory: Path, checkpoint: Checkpoint, limit: int) -> int | None:
    """First index below ``limit`` whose leaf hash differs from an authenticated sidecar."""
    try:
        sidecar = (directory / LEAF_HASHES).read_bytes()
    except OSError:
        return None
    if len(sidecar) != HASH_SIZE * checkpoint.size:
        return None
    acc = RootAccumulator()
    acc.extend_hashes([sidecar[i : i + HASH_SIZE] for i in range(0, len(sidecar), HASH_SIZE)])
    if acc.root() != checkpoint.root:
        return None  # not authentic: it cannot tell us anything
    index = 0
    try:
        for batch in _leaf_batches(directory / ENTRIES, checkpoint.size):
            for digest in hash_leaves(batch):
                if index < limit and digest != sidecar[index * HASH_SIZE : (index + 1) * HASH_SIZE]:
                    return index
                index += 1
    except ExportVerificationError as exc:
        # every entry present matched: a missing entry is the first bad index
        return exc.index if exc.check == "index" and exc.index == index < limit else None
    return None


def verify_export(
    directory: str | os.PathLike[str],
    *,
    vkey: str | None = None,
    previous_checkpoint: str | None = None,
    previous_vkey: str | None = None,
    progress: Callable[[int], object] | None = None,
) -> VerifyReport:
    """Verify an export folder offline; raise :class:`ExportVerificationError` on failure."""
    folder = Path(directory)
    checkpoint, used_vkey, from_export = _read_checkpoint(folder, vkey)
    previous = None
    if previous_checkpoint is not None:
        previous = _check_previous(previous_checkpoint, previous_vkey or used_vkey, checkpoint)
    acc = RootAccumulator()
    try:
        _accumulate(folder, checkpoint, previous, acc, progress)
    except ExportVerificationError as exc:
        if exc.check != "index" or exc.index is None:
            raise
        # entries missing or extra: name the first entry that differs from the signed leaves
        bad = _first_bad_leaf(folder, checkpoint, checkpoint.size)
        if bad is None or bad >= exc.index:
            raise
        raise ExportVerificationError(
            "root", f"entries do not reproduce the signed leaves ({exc})", bad
        ) from exc
    if acc.root() != checkpoint.root:
        bad = _first_bad_leaf(folder, checkpoint, checkpoint.size)
        raise ExportVerificationError("root", "entries do not reproduce the signed root", bad)
    return VerifyReport(
        origin=checkpoint.origin,
        size=checkpoint.size,
        root=checkpoint.root,
        key_name=parse_vkey(used_vkey).name,
        key_id=_key_id(used_vkey),
        vkey_from_export=from_export,
        previous_size=None if previous is None else previous.size,
    )


def _key_id(vkey: str) -> str:
    verifier = parse_vkey(vkey)
    return f"{verifier.name}+{verifier.key_hash:08x}"


def _accumulate(
    folder: Path,
    checkpoint: Checkpoint,
    previous: Checkpoint | None,
    acc: RootAccumulator,
    progress: Callable[[int], object] | None,
) -> None:
    """Hash every entry into ``acc``, checking the earlier checkpoint's root on the way."""
    for batch in _leaf_batches(folder / ENTRIES, checkpoint.size):
        hashes = hash_leaves(batch)
        if previous is not None and acc.size < previous.size <= acc.size + len(hashes):
            cut = previous.size - acc.size
            acc.extend_hashes(hashes[:cut])
            if acc.root() != previous.root:
                bad = _first_bad_leaf(folder, checkpoint, previous.size)
                raise ExportVerificationError(
                    "consistency", "entries do not reproduce the earlier checkpoint's root", bad
                )
            hashes = hashes[cut:]
        acc.extend_hashes(hashes)
        if progress is not None:
            progress(acc.size)

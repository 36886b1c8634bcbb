"""Checkpoint signing-key files: create once (0600, atomic, exclusive), then load.

The file holds one line, Go's signer-key text ``PRIVATE+KEY+<name>+<hash>+<base64>`` (see
:mod:`ledger.note`), so the key name travels with the key.  Creation writes a temporary file
with ``O_CREAT | O_EXCL`` and mode 0600, fsyncs it, and ``link``s it into place -- ``link``
fails if the target exists, so two processes starting at once cannot both create a key, and a
crash never leaves a half-written key file behind.

Rotation: configure a *new* path and a *new* key name; the old file is left alone (keep it
offline) and the old vkey stays published so old checkpoints still verify.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

from ledger.fsutil import fsync_dir
from ledger.note import Signer

__all__ = ["KeyFileError", "load_key", "load_or_create_key"]


class KeyFileError(Exception):
    """A key file is unreadable, malformed, too permissive or for another key name."""


def load_key(path: str | os.PathLike[str], *, key_name: str) -> Signer:
    """Load an existing key file; its key name must equal ``key_name``."""
    path = Path(path)
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFileError(f"{path} is accessible by group/others (mode {mode & 0o777:o})")
    try:
        signer = Signer.from_skey(path.read_text(encoding="ascii").strip())
    except (ValueError, UnicodeDecodeError) as exc:
        raise KeyFileError(f"{path} is not a signer key file") from exc
    if signer.key_name != key_name:
        raise KeyFileError(f"{path} holds key {signer.key_name!r}, expected {key_name!r}")
    return signer


def _create(path: Path, signer: Signer) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, (signer.skey() + "\n").encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)  # atomic, and fails if another process created the key first
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    fsync_dir(path.parent)


def load_or_create_key(path: str | os.PathLike[str], *, key_name: str) -> Signer:
    """Load the key at ``path``, creating a fresh Ed25519 key there on first start."""
    path = Path(path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            _create(path, Signer.generate(key_name=key_name))
    return load_key(path, key_name=key_name)

"""Small durable-file helpers: fsync a directory, replace a file atomically."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["atomic_write_bytes", "fsync_dir"]


def fsync_dir(directory: Path) -> None:
    """fsync a directory so that renames and creations in it are durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, data: bytes, *, mode: int = 0o600) -> None:
    """Write ``data`` to ``path`` via temp file + fsync + rename + directory fsync.

    A crash leaves either the old or the new content, never a mix.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    fsync_dir(path.parent)

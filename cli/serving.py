"""Who serves a data folder: the claim ``registry serve`` holds while it runs.

**The serve claim.** ``registry serve`` holds an exclusive ``flock`` on ``DATA/serve.lock`` for
as long as it runs and writes into it who it is (pid, address, workers). The kernel drops the
lock when the process ends, also on ``kill -9``, so a stale file never blocks anything. A CLI
command that writes (to the store or the ledger) holds a *shared* lock on the same file while it
runs: if the service holds the file, the command is refused before it writes anything, naming
the service (`ServiceBusy`, exit 3); and a service starting meanwhile waits for the commands
to finish instead of finding its ledger taken. Reading commands take no lock and work beside
the service.

With ``--workers N`` the supervisor holds the claim (`cli.workers`).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cli.base import CliError

SERVE_LOCK = "serve.lock"
#: how long a starting service waits for CLI commands still writing to the data folder
START_WAIT_SECONDS = 30


class ServiceBusy(CliError):
    """The data folder is served: the command was refused before it wrote anything."""


@dataclass(frozen=True)
class ServiceInfo:
    pid: int | None
    url: str
    workers: int

    def describe(self) -> str:
        pid = f"pid {self.pid}" if self.pid else "pid unknown"
        return f"registry serve ({pid}, {self.url or 'address unknown'}, " \
               f"{self.workers} worker{'s' if self.workers != 1 else ''})"


def _read_info(fd: int) -> ServiceInfo | None:
    try:
        raw = os.pread(fd, 4096, 0)
        data = json.loads(raw) if raw.strip() else None
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    return ServiceInfo(pid=data.get("pid"), url=str(data.get("url", "")),
                       workers=int(data.get("workers", 1)))


def _open(data_dir: str) -> int:
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    return os.open(Path(data_dir) / SERVE_LOCK, os.O_RDWR | os.O_CREAT, 0o600)


def _holder(fd: int) -> ServiceInfo:
    """Who holds the claim: the service writes its record just after taking the lock, so a
    reader racing its start may find the file empty for a moment."""
    for _ in range(20):
        info = _read_info(fd)
        if info is not None:
            return info
        time.sleep(0.05)
    return ServiceInfo(pid=None, url="", workers=1)


def running_service(data_dir: str) -> ServiceInfo | None:
    """The service serving ``data_dir`` now, or None."""
    path = Path(data_dir) / SERVE_LOCK
    if not path.exists():
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _holder(fd)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


@contextlib.contextmanager
def writing_beside_no_service(data_dir: str, what: str) -> Iterator[None]:
    """Hold the shared claim while a command writes; `ServiceBusy` if a service holds it."""
    fd = _open(data_dir)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            info = _holder(fd)
            raise ServiceBusy(
                f"data folder {data_dir!r} is served by {info.describe()}; nothing was "
                f"written: {what}") from None
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


class ServeClaim:
    """The exclusive claim of a running service on its data folder."""

    def __init__(self, data_dir: str, *, url: str, workers: int) -> None:
        self._fd = _open(data_dir)
        deadline = time.monotonic() + START_WAIT_SECONDS
        while True:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                # the record is written by a service only: a live pid in it is the service
                # holding the claim; otherwise CLI commands are writing, and they finish
                info = _read_info(self._fd)
                served = info is not None and _alive(info.pid) and info.pid != os.getpid()
                if served or time.monotonic() > deadline:
                    os.close(self._fd)
                    holder = info.describe() if served and info else \
                        "registry commands writing to it"
                    raise CliError(f"data folder {data_dir!r} is in use by {holder}") from None
                time.sleep(0.1)
        record = {"pid": os.getpid(), "url": url, "workers": workers,
                  "since": datetime.now(UTC).isoformat(timespec="seconds")}
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, json.dumps(record).encode(), 0)

    def release(self) -> None:
        with contextlib.suppress(OSError):
            os.ftruncate(self._fd, 0)
            os.close(self._fd)


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True

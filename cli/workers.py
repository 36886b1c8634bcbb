"""``registry serve --workers N``: uvicorn's supervisor over N worker processes.

PostgreSQL only (SQLite has one writer process). The listener keeps TCP_NODELAY (`TcpConfig`).
Each worker is a process with its own registry over the shared store (order books keep one
writer through `registry.book_lock`; schema creation is serialised by `registry.schema_lock`)
and follows the store into a ledger folder of its own, ``DATA/ledger-worker-K`` (K the first
free slot, held by a lock file for the worker's life, so a restarted worker takes over its
predecessor's folder): each is a complete copy of the same log, leaves in the store's commit
order, checkpoints signed with the same key. The canonical ledger (``DATA/ledger``) is brought
up to date by the CLI. uvicorn restarts a worker that dies while serving; a worker that fails
to *start* makes it stop the others and return as from a clean shutdown, so `supervise` then
says so and returns 1.
"""

from __future__ import annotations

import fcntl
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors import Multiprocess

WORKER_SLOTS = 64
_slot_fds: list[int] = []  # held for the worker's life: the slot is its ledger folder's claim


class TcpConfig(uvicorn.Config):
    """uvicorn's multi-process supervisor binds the listener itself with ``proto`` 0, and
    asyncio turns TCP_NODELAY on only for sockets that report ``IPPROTO_TCP``: Nagle's
    algorithm then holds every keep-alive response's second segment for the client's delayed
    ACK, about 40 ms (uvicorn issue #3149, open in 0.54). This binds it as TCP."""

    def bind_socket(self) -> socket.socket:
        family = socket.AF_INET6 if self.host and ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        sock.set_inheritable(True)
        return sock


def take_worker_slot(data_dir: str) -> str:
    """The ledger folder of the first free worker slot, held until this process ends."""
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    for k in range(WORKER_SLOTS):
        fd = os.open(Path(data_dir) / f"worker-slot-{k}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        _slot_fds.append(fd)
        return str(Path(data_dir) / f"ledger-worker-{k}")
    raise RuntimeError(f"all {WORKER_SLOTS} worker slots of {data_dir} are taken")


@dataclass(frozen=True)
class WorkerApp:
    """The app factory each worker process calls (pickled to it by the supervisor)."""

    env: dict[str, str]

    def __call__(self) -> Any:
        from api.app import create_app
        from registry.gc_pause import settle_heap

        env = dict(self.env)
        env["REGISTRY_LEDGER_DIR"] = take_worker_slot(env["REGISTRY_DATA_DIR"])
        app = create_app(env)
        settle_heap()  # as a single `registry serve` does (registry.gc_pause)
        return app


def supervise(app: Any, *, host: str, port: int, workers: int, **config: Any) -> int:
    """Run ``workers`` uvicorn worker processes of ``app`` (an import string or a picklable
    factory) until SIGTERM or SIGINT; 1 if a worker failed to start, else 0."""
    c = TcpConfig(app, factory=True, host=host, port=port, workers=workers, **config)
    supervisor = Multiprocess(c, sockets=[c.bind_socket()])
    supervisor.run()
    failed = [p.pid for p in supervisor.processes if p.exitcode == STARTUP_FAILURE]
    if failed:
        print(f"registry: error: worker process {failed[0]} failed to start (see its error "
              "above); the other workers were stopped", flush=True)
        return 1
    return 0

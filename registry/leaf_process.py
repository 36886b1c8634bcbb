"""Leaves encoded in a process of their own: the ledger signer's encoding off the serving
process's interpreter lock.

Why: the signer encodes every committed event as its leaf (the event decoded, its record in
canonical JSON, a salted commitment for each part of its sealed fields). In ``registry serve``
that was a fifth of the interpreter's time under bulk order entry and a sixth under single
orders (py-spy ``--gil``), time the event loop and the order gateway's writer waited for, on a
machine whose other core had room. `LeafProcess` runs the same `LeafEncoder` over the same
store in a child process (`registry.leaf_child`, spoken to over its standard input and
output) and hands the follower a page at a time: each new event's `StoredKey` and
its leaf. The follower appends them as it appends its own, and checks every leaf before it
signs exactly as before: nothing the child says is signed unchecked (the check re-reads each
event from the store in the serving process; with ``kept_leaves`` it compares that event with
the one the child encoded, by id, aggregate, version, topic and the SHA-256 of its stored bytes,
and the leaf read back from the file with the hash of the leaf the child gave; without, it
encodes the event again).

The child starts in the background; until it has opened the store, and for good once it fails
(it died, it answered with an error, it did not answer within ``TIMEOUT`` seconds), the
follower encodes in its own thread as before, which is logged once. The child reads nothing
but the store and holds no lock; it ends when its standard input closes, so it ends with the
serving process however that ends (a ``kill -9`` included).

``registry serve`` encodes in a child unless ``REGISTRY_LEAF_PROCESS=0``; an app built
otherwise (the tests' apps) only with ``REGISTRY_LEAF_PROCESS=1``; never over the memory store,
which another process cannot see. `tests/integration/test_leaf_process.py` requires the same
ledger both ways, the fallback, and the child's end with its parent.
"""

from __future__ import annotations

import contextlib
import logging
import pickle
import select
import struct
import subprocess
import sys
import threading
from collections.abc import Mapping
from typing import IO, Any

log = logging.getLogger(__name__)

#: seconds a page may take the child before it is given up (and the thread encodes)
TIMEOUT = 60.0
_HEADER = struct.Struct(">Q")


def wanted(env: Mapping[str, str]) -> bool:
    """Whether leaves are encoded in a child process: ``REGISTRY_LEAF_PROCESS=1`` (which
    ``registry serve`` sets unless it is set), never over the memory store."""
    from registry.config import Settings

    text = env.get("REGISTRY_LEAF_PROCESS", "0")
    if text not in ("0", "1"):
        raise ValueError(f"REGISTRY_LEAF_PROCESS must be 0 or 1, not {text!r}")
    return text == "1" and not Settings.from_env(env).in_memory


def write_frame(out: IO[bytes], value: Any) -> None:
    body = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    out.write(_HEADER.pack(len(body)) + body)
    out.flush()


def _read_exactly(source: IO[bytes], size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = source.read(left)
        if not chunk:
            raise EOFError("the other end closed")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def read_frame(source: IO[bytes]) -> Any:
    (size,) = _HEADER.unpack(_read_exactly(source, _HEADER.size))
    return pickle.loads(_read_exactly(source, size))  # noqa: S301 - our own child's frames


class LeafProcess:
    """The child that encodes pages of leaves for one follower (module docstring)."""

    def __init__(self, env: Mapping[str, str], seal_secret: bytes) -> None:
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._failed = False
        self._started = False  # a child process was made
        try:
            self._child = subprocess.Popen(  # this interpreter, this module
                [sys.executable, "-m", "registry.leaf_child"], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE)
        except OSError as exc:  # no process to be had: the follower encodes, as it did
            self._failed = True
            log.warning("leaf process: could not start (%s); the ledger follower encodes "
                        "leaves itself", exc)
            return
        self._started = True
        assert self._child.stdin is not None and self._child.stdout is not None
        self._in, self._out = self._child.stdin, self._child.stdout
        try:
            write_frame(self._in, (dict(env), seal_secret))
        except OSError as exc:
            self._fail(f"could not start: {exc}")
        threading.Thread(target=self._await_ready, name="leaf-process-start",
                         daemon=True).start()

    @property
    def ready(self) -> bool:
        """Whether the child answers pages (it has opened the store and has not failed)."""
        return self._ready.is_set() and not self._failed

    def _await_ready(self) -> None:
        try:
            if self._readable(TIMEOUT) and read_frame(self._out) == "ready":
                self._ready.set()
                return
            self._fail("did not open the store")
        except (OSError, EOFError, pickle.UnpicklingError) as exc:
            self._fail(f"did not start: {exc}")

    def _readable(self, timeout: float) -> bool:
        return bool(select.select([self._out], [], [], timeout)[0])

    def page(self, position: int, first: int, format_2_from: int, limit: int) -> list[Any] | None:
        """`registry.ledger_follower.encoded_leaves` of at most ``limit`` events after log
        ``position``, the first the ledger's leaf ``first``, as the child encodes them; None
        when the child cannot answer (the caller encodes)."""
        if not self.ready:
            return None
        with self._lock:
            try:
                write_frame(self._in, (position, first, format_2_from, limit))
                if not self._readable(TIMEOUT):
                    raise TimeoutError(f"no answer in {TIMEOUT:.0f} s")
                answer = read_frame(self._out)
            except (OSError, EOFError, TimeoutError, pickle.UnpicklingError) as exc:
                self._fail(str(exc) or type(exc).__name__)
                return None
        if isinstance(answer, str):  # the child's error
            self._fail(answer)
            return None
        encoded: list[Any] = answer
        return encoded

    def _fail(self, why: str) -> None:
        if not self._failed:
            self._failed = True
            log.warning("leaf process: %s; the ledger follower encodes leaves itself", why)
            self._child.kill()

    def close(self) -> None:
        """End the child (it ends on its own when its input closes)."""
        if not self._started:
            return
        self._failed = True
        with contextlib.suppress(OSError):
            self._in.close()
        try:
            self._child.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._child.kill()
            self._child.wait()
        self._out.close()

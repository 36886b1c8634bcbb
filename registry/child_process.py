"""A helper process of the serving process, spoken to in frames over its standard input and
output: what the leaf process (`registry.leaf_process`) and the order writer
(`registry.order_process`) share.

Why processes: the serving process is held to one core by the interpreter lock under load,
while the machine's other core has room; work that needs nothing of the serving process but
the store can run beside it. Each helper is ``python -m <module>`` of this interpreter; its
first frame is what it needs to open the store, and it answers ``"ready"`` once it has. Then
every frame the parent writes is answered by one frame, in order. A frame is a pickle with an
8-byte length in front (both ends are this code base, of this checkout).

The child starts in the background: until it is ready, and for good once it fails (it died,
it answered what it should not, it did not answer within the timeout), `ChildProcess.ready` is
False and the caller does the work itself, which is logged once. The child ends when its
standard input closes, so it ends with the serving process however that ends (a ``kill -9``
included): it reads its next frame, finds the end, and returns.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import select
import signal
import struct
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping
from typing import IO, Any

log = logging.getLogger(__name__)

_HEADER = struct.Struct(">Q")


def wanted(env: Mapping[str, str], variable: str) -> bool:
    """Whether ``env`` asks for the helper that ``variable`` switches (``1``; ``0`` or absent
    is no): never over the memory store, which another process cannot see."""
    from registry.config import Settings

    text = env.get(variable, "0")
    if text not in ("0", "1"):
        raise ValueError(f"{variable} must be 0 or 1, not {text!r}")
    return text == "1" and not Settings.from_env(env).in_memory


class NotSent(Exception):
    """The frame never reached the child (it was not ready, or had ended): nothing of it was
    done there."""


class NoAnswer(Exception):
    """The frame was sent and the child ended (or went silent, and was ended) before it
    answered: what it did with it is not known."""


def write_frame(out: IO[bytes], value: Any) -> None:
    body = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)  # before a byte goes out
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


class ChildProcess:
    """The parent's end of one helper (module docstring). ``what`` names it in the log
    ("leaf process"), ``instead`` says who does the work once it cannot ("the ledger
    follower encodes leaves itself")."""

    def __init__(self, module: str, first: Any, *, what: str, instead: str,
                 start_timeout: float, timeout: float) -> None:
        self.what, self.instead = what, instead
        self.start_timeout, self.timeout = start_timeout, timeout
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._failed = False
        self._started = False  # a child process was made
        try:
            self.child = subprocess.Popen(  # this interpreter, that module
                [sys.executable, "-m", module], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        except OSError as exc:  # no process to be had: the caller does the work, as it did
            self._failed = True
            log.warning("%s: could not start (%s); %s", what, exc, instead)
            return
        self._started = True
        assert self.child.stdin is not None and self.child.stdout is not None
        self._in, self._out = self.child.stdin, self.child.stdout
        try:
            write_frame(self._in, first)
        except OSError as exc:
            self.fail(f"could not start: {exc}")
        threading.Thread(target=self._await_ready, name=f"{module}-start", daemon=True).start()

    @property
    def ready(self) -> bool:
        """Whether the child answers (it has opened the store and has not failed)."""
        return self._ready.is_set() and not self._failed

    def _await_ready(self) -> None:
        try:
            if self._readable(self.start_timeout) and read_frame(self._out) == "ready":
                self._ready.set()
                return
            self.fail("did not open the store")
        except (OSError, EOFError, ValueError, pickle.UnpicklingError) as exc:
            self.fail(f"did not start: {exc}")

    def _readable(self, timeout: float) -> bool:
        return bool(select.select([self._out], [], [], timeout)[0])

    def ask(self, frame: Any) -> Any:
        """The child's answer to ``frame``. Raises `NotSent` when the child is not ready or
        the frame could not be written, `NoAnswer` when it was written and no answer came
        (the child is then ended, and has ended, before this returns)."""
        if not self.ready:
            raise NotSent(f"the {self.what} is not ready")
        with self._lock:
            try:
                write_frame(self._in, frame)
            except (OSError, ValueError) as exc:  # a pipe the child no longer reads
                self.fail(str(exc) or type(exc).__name__)
                raise NotSent(f"the {self.what} ended") from exc
            try:
                if not self._readable(self.timeout):
                    raise TimeoutError(f"no answer in {self.timeout:.0f} s")
                return read_frame(self._out)
            except (OSError, EOFError, ValueError, TimeoutError, pickle.UnpicklingError) as exc:
                self.fail(str(exc) or type(exc).__name__)
                raise NoAnswer(f"the {self.what} gave no answer: {exc}") from exc

    def fail(self, why: str) -> None:
        """Give the child up for good: log why once, end it and wait until it has ended (so
        that it does nothing more once the caller does the work itself)."""
        if not self._failed:
            self._failed = True
            log.warning("%s: %s; %s", self.what, why, self.instead)
        if self._started:
            self.child.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.child.wait(timeout=10)

    def close(self) -> None:
        """End the child (it ends on its own when its input closes)."""
        if not self._started:
            return
        self._failed = True
        with contextlib.suppress(OSError):
            self._in.close()
        try:
            self.child.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.child.kill()
            self.child.wait()
        self._out.close()


def run_child(serve: Callable[[IO[bytes], IO[bytes]], None]) -> None:
    """The child's ``main``: ``serve(input, output)`` over the frames, until the input ends."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a terminal's ^C is the serving process's
    # the frames go out on the standard output this process was given; anything printed goes
    # to the standard error, the serving process's log
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    logging.basicConfig(level=logging.WARNING)
    # the serving process may end while an answer is on its way
    with contextlib.suppress(BrokenPipeError):
        serve(sys.stdin.buffer, out)

"""The service under load, started and stopped by process id, and the CLI calls around it.

SQLite: ``registry serve`` (one process; the store has one writer). PostgreSQL with several
workers: uvicorn's supervisor with N workers of `loadtests.asgi:create`, started by
`loadtests.serve_workers` (which keeps TCP_NODELAY on; ``registry serve`` runs one process).
Either way the service listens on a free loopback port, is ready when ``/health`` answers, and
is stopped with SIGTERM to its pid (uvicorn then stops its workers and every app closes its
store and ledger), SIGKILL after a grace period.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

ROOT = Path(__file__).resolve().parent.parent
READY_TIMEOUT_S = 60
STOP_GRACE_S = 20


@contextlib.contextmanager
def step(text: str, *, seconds: float | None = None) -> Iterator[None]:
    """Print a step and how long it took; a progress bar for a step of known duration."""
    print(f"-> {text}", flush=True)
    t0 = time.monotonic()
    done = threading.Event()
    bar_thread = None
    if seconds and sys.stdout.isatty():
        def tick() -> None:
            with tqdm(total=int(seconds), unit="s", leave=False, ncols=80) as bar:
                while not done.wait(1.0) and bar.n < bar.total:
                    bar.update(1)

        bar_thread = threading.Thread(target=tick, daemon=True)
        bar_thread.start()
    try:
        yield
    finally:
        done.set()
        if bar_thread is not None:
            bar_thread.join()
        print(f"   done in {time.monotonic() - t0:.1f} s", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Done:
    returncode: int
    output: str

    @property
    def summary(self) -> str:
        lines = [line for line in self.output.strip().splitlines() if line.strip()]
        text = " / ".join(lines[-3:]) if lines else ""
        return f"{'ok' if self.returncode == 0 else f'exit {self.returncode}'}: {text}"


def cli(env: dict[str, str], *args: str) -> Done:
    """Run ``registry ARGS`` against the run's store (the service must not hold the ledger)."""
    done = subprocess.run([sys.executable, "-m", "cli", *args],
                          env={**os.environ, **env}, cwd=ROOT, capture_output=True, text=True,
                          check=False)
    return Done(done.returncode, done.stdout + done.stderr)


class Service:
    def __init__(self, env: dict[str, str], *, port: int, workers: int, log: Path,
                 bare: bool = False) -> None:
        """``bare``: the reference app (`loadtests.bare_app`) instead of the registry."""
        self.env, self.port, self.workers, self.log = env, port, workers, log
        self.bare = bare
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def command(self) -> list[str]:
        if self.bare:
            return [sys.executable, "-m", "loadtests.bare_app", "--host", "127.0.0.1",
                    "--port", str(self.port)]
        if self.workers == 1:
            return [sys.executable, "-m", "cli", "serve", "--host", "127.0.0.1",
                    "--port", str(self.port)]
        return [sys.executable, "-m", "loadtests.serve_workers", "--host", "127.0.0.1",
                "--port", str(self.port), "--workers", str(self.workers)]

    def start(self) -> None:
        # the benchmark configuration: /bench/echo, the baseline orders are compared with
        env = {**os.environ, **self.env, "REGISTRY_BENCH_ENDPOINTS": "1"}
        if self.workers > 1:
            env["LOADTEST_LEDGER_PER_WORKER"] = "1"
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(self.command(), env=env, cwd=ROOT, stdout=out,
                                            stderr=subprocess.STDOUT)
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the service exited ({self.process.returncode}) before it "
                                   f"was ready; see {self.log}")
            if self._healthy():
                return
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"the service did not answer /health in {READY_TIMEOUT_S} s")

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/health", timeout=2) as r:  # noqa: S310
                return bool(r.status == 200)
        except OSError:
            return False

    def stop(self) -> None:
        """SIGTERM to the service's pid, SIGKILL if it has not exited after the grace period."""
        p = self.process
        if p is None or p.poll() is not None:
            return
        os.kill(p.pid, signal.SIGTERM)
        try:
            p.wait(STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            os.kill(p.pid, signal.SIGKILL)
            p.wait()

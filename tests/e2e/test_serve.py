"""`registry serve` answers on a loopback port and stops when killed."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.support.world import seed_data_folder

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_answers_health_and_the_checkpoint(tmp_path: Path) -> None:
    seed_data_folder(tmp_path)
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli", "--data-dir", str(tmp_path), "serve",
         "--port", str(port)], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                    assert r.status == 200
                    break
            except OSError:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                assert time.monotonic() < deadline, "the server did not come up"
                time.sleep(0.2)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ledger/checkpoint") as r:
            assert r.read().decode().startswith("surplus-registry.local/ledger\n")
    finally:
        proc.terminate()
        proc.wait(timeout=10)

"""A live stream open against `registry serve` does not hold up its shutdown."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from registry.bootstrap import build_registry
from registry.seed_users import issue_in
from tests.e2e.test_serve import ROOT, free_port
from tests.integration.test_exchange_journeys import COD, exchange_world


def test_sigterm_ends_open_streams_and_the_server(tmp_path: Path) -> None:
    app = build_registry({"REGISTRY_DATA_DIR": str(tmp_path)})
    exchange_world(app)
    _, secret = issue_in(app, "auditor", "li.wei")
    app.close()
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli", "--data-dir", str(tmp_path), "serve",
         "--port", str(port)], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/markets/{COD}/stream?timeout=60",
            headers={"Authorization": f"Bearer {secret}"})
        while True:
            try:
                stream = urllib.request.urlopen(request, timeout=70)
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.2)
        with stream:
            assert stream.readline().startswith(b"retry:")
            proc.terminate()
            began = time.monotonic()
            proc.wait(timeout=30)
            assert time.monotonic() - began < 20  # not the stream's 60 s
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

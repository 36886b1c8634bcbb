"""kill -9 of `registry serve` while keyed deposits stream in: after a restart, a retry of every
approval with its key answers 200, an acknowledged one with its first response, and every
deposit is credited exactly once.

A deposit is a sensitive act (four eyes): one administrator proposes it (202, nothing moves)
and a second approves it, which runs the deposit and answers its result. The approval is the
write under test: it carries the Idempotency-Key and is what the kill interrupts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.e2e.test_serve import ROOT, free_port
from tests.support.tokens import bearer
from tests.support.world import code, seed_data_folder

ENTERPRISE = code(1)
ROUNDS = 2
PER_ROUND = 30


def _serve(folder: Path, port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli", "--data-dir", str(folder), "serve", "--port",
         str(port)], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                return proc
        except OSError:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "the server did not come up"
            time.sleep(0.1)


def _post(url: str, headers: dict[str, str],
          body: dict[str, object] | None = None) -> tuple[int, dict[str, object]]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method="POST",
                                     headers={**headers, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def _propose(port: int, admin: dict[str, str], n: int) -> str | None:
    """The id of the deposit ``n``'s proposal, or None if it was not proposed."""
    status, body = _post(f"http://127.0.0.1:{port}/cash/{ENTERPRISE}/deposits", admin,
                         {"amount": 1_000 + n, "reference": f"K9-{n}"})
    return str(body["id"]) if status == 202 else None


def _approve(port: int, approver: dict[str, str], proposal: str,
             n: int) -> tuple[int, dict[str, object]]:
    """Approve (a second administrator) with the deposit's Idempotency-Key."""
    return _post(f"http://127.0.0.1:{port}/proposals/{proposal}/approve",
                 {**approver, "Idempotency-Key": f"k9-{n}"})


def test_keyed_deposits_survive_kill_9_exactly_once(tmp_path: Path) -> None:
    seed_data_folder(tmp_path)
    admin = bearer(tmp_path)  # proposes
    approver = bearer(tmp_path, subject="li.na")  # a different administrator: approves
    acked: dict[int, dict[str, object]] = {}
    proposals: dict[int, str] = {}
    sent: list[int] = []  # deposits whose approval was sent
    for round_ in range(ROUNDS):
        port = free_port()
        proc = _serve(tmp_path, port)
        first = round_ * PER_ROUND
        stop = threading.Event()

        def stream(first: int = first, port: int = port,
                   stop: threading.Event = stop) -> None:
            for n in range(first, first + PER_ROUND):
                if stop.is_set():
                    return
                try:
                    proposal = _propose(port, admin, n)
                    if proposal is None:
                        return
                    proposals[n] = proposal
                    sent.append(n)
                    status, body = _approve(port, approver, proposal, n)
                except OSError:
                    return  # the server was killed under it
                if status == 200:
                    acked[n] = body

        writer = threading.Thread(target=stream)
        writer.start()
        while len(acked) < first + PER_ROUND // 2 and writer.is_alive():
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)  # mid-stream: one request may be in flight
        proc.wait()
        stop.set()
        writer.join()
    port = free_port()
    proc = _serve(tmp_path, port)
    try:
        for n in sent:
            status, body = _approve(port, approver, proposals[n], n)
            assert status == 200, (n, body)
            if n in acked:
                assert body == acked[n]  # the first response, as it was acknowledged
        with urllib.request.urlopen(urllib.request.Request(
                f"http://127.0.0.1:{port}/cash/{ENTERPRISE}", headers=admin)) as r:
            account = json.loads(r.read())
        # each deposit once: none lost, none twice
        assert account["deposited"] == sum(1_000 + n for n in sent)
        assert len(acked) >= ROUNDS * (PER_ROUND // 2)
    finally:
        proc.terminate()
        proc.wait(timeout=30)

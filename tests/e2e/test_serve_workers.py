"""``registry serve --workers N``: several workers start together on an empty PostgreSQL
database and serve writes; a worker that fails to start makes the supervisor stop the others
and exit non-zero; SQLite refuses several workers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from loadtests.load_service import free_port
from tests.support.tokens import issue

ROOT = Path(__file__).resolve().parents[2]
AT = "2025-03-01T09:00:00+08:00"


def serve(env: dict[str, str], port: int, workers: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "cli", "serve", "--port", str(port), "--workers",
             str(workers)], env={**os.environ, **env}, cwd=ROOT, stdout=out,
            stderr=subprocess.STDOUT)


def wait_healthy(proc: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + 90
    while True:
        assert proc.poll() is None, log.read_text()
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        assert time.monotonic() < deadline, "the service did not come up: " + log.read_text()
        time.sleep(0.2)


def token(env: dict[str, str]) -> str:
    """A token of an administrator user, created in the served database (the CLI's writes,
    ``admin bootstrap`` included, are refused beside the service, so this goes in-process the
    way the tests seed users: `registry.seed_users` bootstraps the founders on an empty store).
    The service accepts it: tokens and users are read from the shared store."""
    return issue(env, "administrator", "admin.li")[1]


def post(port: int, path: str, secret: str, body: dict[str, object]) -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode(), method="POST",
        headers={"Authorization": f"Bearer {secret}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as r:
        return int(r.status)


@pytest.mark.postgres
def test_two_workers_start_on_an_empty_database_and_serve_writes(
        tmp_path: Path, postgres_env: dict[str, str]) -> None:
    env = {"REGISTRY_STORE": "postgres", "REGISTRY_DATA_DIR": str(tmp_path / "data"),
           **postgres_env}
    port, log = free_port(), tmp_path / "serve.log"
    proc = serve(env, port, 3, log)
    try:
        wait_healthy(proc, port, log)
        secret = token(env)
        for n in range(6):  # spread over the workers by the kernel's accept
            assert post(port, "/enterprises", secret, {
                "credit_code": _code(n), "name": f"Firm {n}", "sector": "PAPER",
                "prefecture": "DONGGUAN", "basin": "MAOZHOU", "direct_discharger": True,
            }) == 201
        time.sleep(1)  # every worker has had time to finish (or fail) its start
        assert proc.poll() is None, log.read_text()
        assert "Traceback" not in log.read_text(), log.read_text()
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
    assert code == 0, log.read_text()
    assert len(list((tmp_path / "data").glob("ledger-worker-*"))) == 3


def _code(n: int) -> str:
    from domain.credit_code import make_credit_code

    return make_credit_code(f"91441900MA7W{n:05d}")


@pytest.mark.postgres
def test_a_worker_that_fails_to_start_makes_the_supervisor_exit_non_zero(
        tmp_path: Path, postgres_env: dict[str, str]) -> None:
    env = {"REGISTRY_STORE": "postgres", "REGISTRY_DATA_DIR": str(tmp_path / "data"),
           **postgres_env, "POSTGRES_DBNAME": "no_such_database"}
    port, log = free_port(), tmp_path / "serve.log"
    proc = serve(env, port, 2, log)
    try:
        code = proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert code == 1, log.read_text()
    assert "failed to start" in log.read_text()


def test_sqlite_refuses_several_workers(tmp_path: Path) -> None:
    env = {"REGISTRY_DATA_DIR": str(tmp_path / "data")}
    done = subprocess.run([sys.executable, "-m", "cli", "serve", "--workers", "2"],
                          env={**os.environ, **env}, cwd=ROOT, capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 2
    assert "several --workers need REGISTRY_STORE=postgres" in done.stderr

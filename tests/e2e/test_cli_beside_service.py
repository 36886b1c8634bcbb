"""The CLI beside a running ``registry serve`` of the same data folder: a write command is
refused before it writes anything, naming the service (pid, address), exit 3; read commands
and token commands work; once the service is gone (stopped, or killed with -9) the same write
completes and exits 0, stored once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import pytest

from cli.serving import running_service
from domain.errors import NotFound
from loadtests.load_service import Service, free_port
from registry.bootstrap import build_registry
from tests.support.cli_people import cli_people
from tests.support.world import code, seed_data_folder

ROOT = Path(__file__).resolve().parents[2]
AUDITOR = "audit-wang"  # the auditor whose own token the token command issues


def registry(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cli", *args],
                          env={**os.environ, **env}, cwd=ROOT, capture_output=True, text=True,
                          timeout=120, check=False)


def deposits(env: dict[str, str], owner: str) -> list[str]:
    """The deposit references stored on ``owner``'s cash account (none if it has no account)."""
    app = build_registry(env)
    try:
        account = app.exchange.cash_account(owner)
        return [e.reference for e in app.events.get(account.id)
                if type(e).__name__ == "Deposited"]
    except NotFound:
        return []
    finally:
        app.close()


@pytest.fixture
def served(tmp_path: Path):  # type: ignore[no-untyped-def]
    data = tmp_path / "data"
    env = seed_data_folder(data)
    app = build_registry(env)
    app.close()
    # the auditor issues its own token from the command line (an administrator may not)
    admins = cli_people(data, ("administrator", "gdee-admin-li"),
                        ("administrator", "gdee-admin-chen"), ("auditor", AUDITOR))
    buyer = code(2)  # the world's paper mill (tests.support.world.ENTERPRISES)
    service = Service(env, port=free_port(), workers=1, log=tmp_path / "service.log")
    service.start()
    try:
        yield env, service, buyer, admins
    finally:
        service.stop()


def test_a_write_beside_the_service_is_refused_before_writing(served) -> None:  # type: ignore[no-untyped-def]
    env, service, buyer, (li, _, _) = served
    before = deposits(env, buyer)
    done = registry({**env, **li.env()}, "cash", "deposit", buyer, "--amount", "5000",
                    "--reference", "BANK-7")
    assert done.returncode == 3, done.stderr
    line = done.stderr.strip()
    assert line.startswith("registry: error: ") and len(line.splitlines()) == 1
    assert f"pid {service.pid}" in line and service.url in line
    assert "nothing was written" in line
    service.stop()
    assert deposits(env, buyer) == before


def test_ledger_writes_are_refused_and_reads_work_beside_the_service(served) -> None:  # type: ignore[no-untyped-def]
    env, service, buyer, _ = served
    export = Path(env["REGISTRY_DATA_DIR"]).parent / "export"
    done = registry(env, "ledger", "export", str(export))
    assert done.returncode == 3 and f"pid {service.pid}" in done.stderr, done.stderr
    assert "/ledger/checkpoint" in done.stderr  # says where to read it instead
    assert not export.exists()
    for args in (("balances",), ("enterprise", "list"), ("cash", "show", buyer),
                 ("market", "book", "COD-2025-MAOZHOU"), ("ledger", "vkey")):
        done = registry(env, *args)
        assert done.returncode in (0, 2), (args, done.stderr)  # 2: a domain refusal, e.g.
        assert "in use by another process" not in done.stderr, (args, done.stderr)
        assert "served by" not in done.stderr, (args, done.stderr)  # no market open
    assert registry(env, "balances").returncode == 0
    with urllib.request.urlopen(f"{service.url}/ledger/vkey") as r:
        assert r.read().decode().strip() == registry(env, "ledger", "vkey").stdout.strip()


def test_token_commands_complete_beside_the_service(served) -> None:  # type: ignore[no-untyped-def]
    env, service, _, (_, _, auditor) = served
    done = registry({**env, **auditor.env()}, "token", "create")
    assert done.returncode == 0, done.stderr
    secret = done.stdout.strip().splitlines()[-1]
    request = urllib.request.Request(f"{service.url}/ledger/entries?limit=1",
                                     headers={"Authorization": f"Bearer {secret}"})
    with urllib.request.urlopen(request) as r:  # the running service accepts the new token
        assert r.status == 200


def test_the_claim_names_the_service_and_goes_with_it(served) -> None:  # type: ignore[no-untyped-def]
    env, service, buyer, (li, chen, _) = served
    info = running_service(env["REGISTRY_DATA_DIR"])
    assert info is not None and info.pid == service.pid and info.url == service.url
    assert service.process is not None
    os.kill(service.process.pid, signal.SIGKILL)  # no clean shutdown: the kernel drops the lock
    service.process.wait()
    assert running_service(env["REGISTRY_DATA_DIR"]) is None
    done = registry({**env, **li.env()}, "cash", "deposit", buyer, "--amount", "5000",
                    "--reference", "BANK-8")
    assert done.returncode == 0, done.stderr
    proposal = done.stdout.split()[1].rstrip(":")
    done = registry({**env, **chen.env()}, "proposal", "approve", proposal)
    assert done.returncode == 0, done.stderr
    assert deposits(env, buyer).count("BANK-8") == 1
    claim = (Path(env["REGISTRY_DATA_DIR"]) / "serve.lock").read_text()
    assert claim == "" or json.loads(claim)["pid"] == service.pid  # stale text, no lock held


def test_a_second_service_on_the_same_folder_is_refused_naming_the_first(served) -> None:  # type: ignore[no-untyped-def]
    env, service, _, _ = served
    done = registry(env, "serve", "--port", str(free_port()))
    assert done.returncode == 2, done.stderr
    assert f"in use by registry serve (pid {service.pid}, {service.url}" in done.stderr


def test_a_service_waits_for_a_cli_write_to_finish(tmp_path: Path) -> None:
    from cli.serving import ServeClaim, writing_beside_no_service

    data = str(tmp_path / "data")
    with writing_beside_no_service(data, "test"):
        started: list[ServeClaim] = []
        thread = threading.Thread(target=lambda: started.append(
            ServeClaim(data, url="http://127.0.0.1:1", workers=1)))
        thread.start()
        thread.join(timeout=1)
        assert thread.is_alive() and not started  # the service waits for the writer
    thread.join(timeout=10)
    assert started
    assert running_service(data) is not None and running_service(data).url.endswith(":1")  # type: ignore[union-attr]
    started[0].release()
    assert running_service(data) is None

"""The ledger as C2SP tlog-tiles, checked by an independent implementation: Go's
``golang.org/x/mod/sumdb/tlog`` (the Go checksum database's tile code) and ``sumdb/note``
fetch a live ``registry serve``'s checkpoint, hash tiles and entry bundles over HTTP and verify
the tree hash, inclusion of leaves read from the bundles and consistency with an earlier tree.

Go and the module come from Debian (``golang-go``, ``golang-golang-x-mod-dev``): installed with
apt when missing and possible, otherwise the test is skipped saying so."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ledger.checkpoint import read_checkpoint_unverified
from registry.bootstrap import build_registry
from registry.ledger_follower import LedgerFollower, LedgerSettings, open_ledger
from tests.e2e.test_readme_api import free_port, wait_for
from tests.support.tokens import issue
from tests.support.world import AT, code, seed_data_folder

ROOT = Path(__file__).resolve().parents[2]
CLIENT = ROOT / "tests" / "interop" / "tlog_tiles_client.go"
GOPATH = "/usr/share/gocode"
TLOG = Path(GOPATH) / "src" / "golang.org" / "x" / "mod" / "sumdb" / "tlog"


def go_available() -> str | None:
    """Why Go's tlog cannot be used here, or None when it can (installing it if we may)."""
    if shutil.which("go") and TLOG.is_dir():
        return None
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return "Go or golang-golang-x-mod-dev is missing and apt-get cannot install it here"
    done = subprocess.run(["apt-get", "install", "-y", "-q", "golang-go",
                           "golang-golang-x-mod-dev"], capture_output=True, text=True,
                          env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"}, check=False)
    if done.returncode != 0 or not shutil.which("go") or not TLOG.is_dir():
        return f"apt-get could not install Go's tlog: {done.stderr.strip()[-300:]}"
    return None


@pytest.fixture(scope="module")
def go_client(tmp_path_factory: pytest.TempPathFactory) -> Path:
    why = go_available()
    if why is not None:
        pytest.skip(f"independent tlog-tiles client not run: {why}")
    out = tmp_path_factory.mktemp("go") / "tlog_tiles_client"
    env = {**os.environ, "GO111MODULE": "off", "GOPATH": GOPATH,  # Debian's GOPATH layout
           "GOCACHE": str(out.parent / "cache")}
    subprocess.run(["go", "build", "-o", str(out), str(CLIENT)], env=env, check=True,
                   capture_output=True)
    return out


def deposits(env: dict[str, str], first: int, count: int) -> None:
    app = build_registry(env)
    for n in range(first, first + count):
        app.exchange.deposit(enterprise=code(1), amount=100, reference=f"DEP-TILES-{n}",
                             administrator="admin-cash", at=AT)
    app.close()


def test_go_sumdb_tlog_verifies_our_tiles_entries_and_consistency(
        go_client: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = seed_data_folder(data)
    deposits(env, 0, 300)
    app = build_registry(env)
    with open_ledger(LedgerSettings.from_env(env)) as ledger:
        LedgerFollower(app, ledger).catch_up()
        old = read_checkpoint_unverified(ledger.latest_checkpoint() or "")
        vkey = ledger.vkey
    app.close()
    deposits(env, 300, 400)  # the served tree spans a full level-0 tile, partial ones above
    token = issue(data, "auditor", "li.wei")[1]
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "cli", "serve", "--data-dir",
                               str(data), "--port", str(port)], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for(f"http://127.0.0.1:{port}/health", server)
        prefix = f"http://127.0.0.1:{port}/ledger"
        indexes = ["0", "255", "256", str(old.size - 1), str(old.size), "511", "512"]
        done = subprocess.run([str(go_client), prefix, vkey, token, str(old.size),
                               base64.b64encode(old.root).decode(), *indexes],
                              capture_output=True, text=True, check=False, timeout=120)
        assert done.returncode == 0, done.stderr + done.stdout
        assert done.stdout.startswith("OK: surplus-registry.local/ledger size ")
        # and it refuses what is not the tree: a wrong earlier root
        forged = subprocess.run([str(go_client), prefix, vkey, token, str(old.size),
                                 base64.b64encode(b"\x00" * 32).decode()],
                                capture_output=True, text=True, check=False, timeout=120)
        assert forged.returncode == 1 and "consistency" in forged.stderr
    finally:
        server.terminate()
        server.wait(timeout=10)

"""Another organisation runs ``registry witness serve`` with its own key; the registry sends it
each new checkpoint with a consistency proof and publishes its cosignature; a verifier that
requires k of n named witnesses accepts the cosigned receipt and refuses one short of them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.e2e.test_readme_api import free_port, wait_for
from tests.support.tokens import bearer
from tests.support.world import code, seed_data_folder

ROOT = Path(__file__).resolve().parents[2]


def cli(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cli", *argv], cwd=ROOT,
                          capture_output=True, text=True, check=False,
                          env={**os.environ, **(env or {})}, timeout=120)


def get(url: str, headers: dict[str, str] | None = None) -> bytes:
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=10) as answer:
        data: bytes = answer.read()
        return data


def test_a_witness_cosigns_and_verifiers_require_it(tmp_path: Path) -> None:
    data = tmp_path / "data"
    seed_data_folder(data)
    vkey = tmp_path / "registry.vkey"
    vkey.write_text(cli("ledger", "vkey", "--data-dir", str(data)).stdout)
    for n in ("gdee", "audit"):
        done = cli("witness", "vkey", "--name", f"witness.{n}.example/registry", "--key",
                   str(tmp_path / f"{n}.key"))
        (tmp_path / f"{n}.vkey").write_text(done.stdout)
    wport, port = free_port(), free_port()
    witness = subprocess.Popen(
        [sys.executable, "-m", "cli", "witness", "serve", "--name",
         "witness.gdee.example/registry", "--key", str(tmp_path / "gdee.key"), "--log",
         f"surplus-registry.local/ledger={vkey}", "--state", str(tmp_path / "state.json"),
         "--port", str(wport)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    env = {**os.environ, "REGISTRY_WITNESSES": f"http://127.0.0.1:{wport} "
           + (tmp_path / "gdee.vkey").read_text().strip(), "REGISTRY_SIGN_INTERVAL_MS": "50"}
    server = subprocess.Popen([sys.executable, "-m", "cli", "serve", "--data-dir",
                               str(data), "--port", str(port)], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        time.sleep(0.5)
        assert witness.poll() is None, witness.stderr.read() if witness.stderr else ""
        url = f"http://127.0.0.1:{port}"
        wait_for(f"{url}/health", server)
        admin = bearer(data)
        second = bearer(data, subject="li.na")  # four eyes: another administrator approves

        def cosigned() -> str:
            for _ in range(200):
                note = get(f"{url}/ledger/checkpoint").decode()
                if "— witness.gdee.example/registry " in note:
                    return note
                time.sleep(0.05)
            return note

        first = cosigned()  # the seeded world, signed at warm-up, sent from size 0
        assert "— witness.gdee.example/registry " in first
        deposit = urllib.request.Request(
            f"{url}/cash/{code(1)}/deposits", method="POST", data=json.dumps(
                {"amount": 1000, "reference": "DEP-WITNESS-1"}).encode(),
            headers={**admin, "Content-Type": "application/json"})
        with urllib.request.urlopen(deposit, timeout=10) as answer:
            assert answer.status == 202  # a proposal: nothing is deposited yet
            proposal = json.loads(answer.read())["id"]
        approval = urllib.request.Request(
            f"{url}/proposals/{proposal}/approve", method="POST", data=b"", headers=second)
        with urllib.request.urlopen(approval, timeout=10) as answer:
            assert answer.status == 200  # the deposit is made, and a new leaf signed
        for _ in range(200):  # the next tree goes with a consistency proof from the first
            state = json.loads((tmp_path / "state.json").read_text())
            if state["surplus-registry.local/ledger"]["size"] > int(first.split("\n")[1]):
                break
            time.sleep(0.05)
        note = cosigned()
        assert int(note.split("\n")[1]) > int(first.split("\n")[1])
        receipt = get(f"{url}/ledger/receipts/1", admin)
        (tmp_path / "receipt.json").write_bytes(receipt)
        ok = cli("receipt", "verify", str(tmp_path / "receipt.json"), "--vkey", str(vkey),
                 "--witness", str(tmp_path / "gdee.vkey"), "--quorum", "1")
        assert ok.returncode == 0, ok.stderr
        assert "cosigned by 1 of 1 named witnesses (witness.gdee.example/registry)" in ok.stdout
        short = cli("receipt", "verify", str(tmp_path / "receipt.json"), "--vkey", str(vkey),
                    "--witness", str(tmp_path / "gdee.vkey"), "--witness",
                    str(tmp_path / "audit.vkey"), "--quorum", "2")
        assert short.returncode == 1 and "1 of the named witnesses" in short.stderr
        # the witness's state is the last tree it cosigned (re-read: the proposal and its
        # approval may have been signed as more than one tree after the loop above)
        state = json.loads((tmp_path / "state.json").read_text())
        assert state["surplus-registry.local/ledger"]["size"] == int(note.split("\n")[1])
    finally:
        for proc in (server, witness):
            proc.terminate()
            proc.wait(timeout=10)

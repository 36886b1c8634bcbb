"""The README's HTTP API walkthrough runs as written: its curl block against a live
`registry serve` over the demo world, from listing to settlement to receipt verification."""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTED_URL = "http://127.0.0.1:8000"


def api_walkthrough() -> str:
    text = (ROOT / "README.md").read_text()
    section = text.split("## HTTP API", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block is not None
    return block.group(1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        assert time.monotonic() < deadline, "the server did not come up"
        time.sleep(0.2)


@pytest.mark.skipif(shutil.which("curl") is None, reason="the walkthrough is curl commands")
def test_readme_api_walkthrough_runs(tmp_path: Path) -> None:
    # `registry` on PATH is this checkout's CLI, as `.venv/bin/registry` is for a reader.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "registry"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m cli "$@"\n')
    shim.chmod(0o755)
    env = {"PYTHONPATH": str(ROOT), "PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(tmp_path)}
    work = tmp_path / "work"
    work.mkdir()
    subprocess.run(["registry", "demo", "--data-dir", "data"], cwd=work, env=env, check=True,
                   capture_output=True)
    # the demo's own sales may already have paid the walkthrough's buyer something
    shown = subprocess.run(["registry", "cash", "show", "91440900MAF3EX2XMD", "--data-dir",
                            "data"], cwd=work, env=env, capture_output=True, text=True,
                           check=False)
    before = json.loads(shown.stdout)["balance"] if shown.returncode == 0 else 0
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(["registry", "serve", "--data-dir", "data", "--port", str(port)],
                              cwd=work, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
    try:
        wait_for(url + "/health", server)
        script = api_walkthrough()
        assert DOCUMENTED_URL in script
        done = subprocess.run(["bash", "-euo", "pipefail", "-c",
                               script.replace(DOCUMENTED_URL, url)],
                              cwd=work, env=env, capture_output=True, text=True, check=False)
        assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
        assert '"state":"settled"' in done.stdout
        out_lines = done.stdout.strip().splitlines()
        ok = next(i for i, line in enumerate(out_lines) if line.startswith("OK: leaf "))
        assert "naming trade ENERGY-2025-GD:1" in out_lines[ok]
        assert out_lines[ok + 1].startswith('disclosed trades/0: ["ENERGY-2025-GD:1"')

        # What the prose under the block claims: 40 t moved and 12,000,000 fen paid.
        receipt = json.loads((work / "receipt.json").read_text())
        assert receipt["subject"] == "ENERGY-2025-GD:1"
        status = json.loads(out_lines[ok - 1])  # the service signed on its own
        assert status["signed_size"] == status["size"] and status["signing_error"] is None
        # the agreement: refused to its requester, made on the second representative's word
        own, confirmed, agreement = (json.loads(line) for line in out_lines[-3:])
        assert own["status"] == 403 and own["type"].endswith("/four-eyes-violation")
        assert confirmed["request"]["state"] == "approved"
        assert agreement["state"] == "offered" and agreement["reference"] == "AG-WALK-1"
        buyer_cash = json.loads(out_lines[ok - 2])
        assert buyer_cash["balance"] == before + 100_000_000 - 12_000_000
        tampered = {**receipt, "proof": {**receipt["proof"],
                                         "hashes": list(reversed(receipt["proof"]["hashes"]))}}
        (work / "tampered.json").write_text(json.dumps(tampered))
        edits = {"subject": "ENERGY-2025-GD:2", "event": "TradeRejected",
                 "position": receipt["position"] + 1}
        for key, value in edits.items():  # a receipt's own claims are checked too
            (work / f"edited-{key}.json").write_text(json.dumps({**receipt, key: value}))
        for argv in (["tampered.json"], ["receipt.json", "--subject", "ENERGY-2025-GD:2"],
                     ["receipt.json", "--subject", "ENERGY-2025-GD:1", "--event",
                      "TradeRejected"],
                     *([f"edited-{key}.json"] for key in edits)):
            refused = subprocess.run(["registry", "receipt", "verify", *argv, "--vkey",
                                      "registry.vkey"], cwd=work, env=env,
                                     capture_output=True, text=True, check=False)
            assert refused.returncode == 1, argv
            assert "receipt verification failed" in refused.stderr
    finally:
        server.terminate()
        server.wait(timeout=10)

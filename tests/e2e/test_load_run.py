"""The load harness, shortly: a 5-second run with 5 users (2 of them traders) passes every
check, and a user whose token is refused stops the run with a failing exit code instead of
idling."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from loadtests.load_service import Service, free_port
from loadtests.load_world import issue_tokens, seed

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def test_short_load_run_passes_every_check(tmp_path: Path) -> None:
    results = tmp_path / "results"
    done = subprocess.run(
        [sys.executable, "-m", "loadtests.run_load", "--warmup", "2", "--seconds", "5",
         "--users", "5", "--spawn-rate", "5", "--traders", "4", "--results", str(results)],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    summary = json.loads((results / "summary.json").read_text())
    assert all(c["ok"] for c in summary["checks"])
    checks = " ".join(c["check"] for c in summary["checks"])
    assert "acknowledged orders each stored exactly once" in checks
    assert "extends the checkpoint taken before the run" in checks
    assert "locust 'warmup' exit code 0" in checks  # reported apart from the realistic run
    assert set(summary["runs"]) == {"warmup", "realistic"}
    orders = summary["runs"]["realistic"]["POST /markets/[instrument]/orders (limit)"]
    acks = (results / "acks").glob("acks-*.txt")
    acked = sum(line.startswith("order ") for f in acks for line in f.read_text().splitlines())
    assert orders["requests"] > 0 and acked > 0
    assert (results / "realistic.html").exists()
    assert (results / "realistic.json").exists()


def test_refused_token_stops_the_run(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {"REGISTRY_DATA_DIR": str(data)}
    manifest = seed(env, traders=2)
    issue_tokens(data, manifest)
    tokens = json.loads((data / "tokens.json").read_text())
    tokens["enterprise"] = [{**t, "token": "revoked-or-never-issued"} for t in tokens["enterprise"]]
    (data / "tokens.json").write_text(json.dumps(tokens))
    service = Service(env, port=free_port(), workers=1, log=tmp_path / "service.log")
    service.start()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "locust", "-f", "loadtests/locustfile.py", "--headless",
             "--host", service.url, "--users", "2", "--spawn-rate", "2", "--run-time", "60s",
             "--only-summary", "Trader"],
            cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
            env={"PATH": "/usr/bin:/bin", "LOADTEST_TOKENS": str(data / "tokens.json"),
                 "LOADTEST_ACKS": str(tmp_path / "acks")})
    finally:
        service.stop()
    assert done.returncode == 3, done.stdout[-2000:] + done.stderr[-2000:]
    assert "could not authenticate (HTTP 401" in done.stdout + done.stderr

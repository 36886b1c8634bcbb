"""The fault suite, shortly (``make faults`` runs it in full): kill -9 of ``registry serve``
under traffic and the CLI beside the service, every check after every round.

Every check counts in the short version's verdict: issue 11's in-process fixes (a retry of an
in-doubt write with its key settles it, an acknowledged one's retry replays the first answer)
are merged, so `PENDING_FIXES` is empty. The other fault kinds (a killed
worker, PostgreSQL killed and restarted, a full disk) run with ``REGISTRY_FAULTS_ALL=1``
(`test_every_fault_kind_passes_every_check`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from loadtests.fault_checks import CHECKS

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.faults, pytest.mark.slow]

#: Checks left out of the short suite's verdict while a fix they wait for is not merged (they
#: still run and are reported); none now: issue 11's in-process fixes are merged.
PENDING_FIXES: list[str] = []
#: every check a round makes on the store and the ledger, whatever the fault
ROUND_CHECKS = {"acked-stored-once", "refused-absent", "in-doubt-at-most-once",
                "in-doubt-settled-by-key", "acked-replay-by-key", "conservation",
                "books-equal-replay", "no-version-gap", "ledger", "audit-replay",
                "audit-matching", "storage-errors-typed", "answers-in-time"}


def run_suite(tmp_path: Path, *args: str, timeout: int) -> tuple[int, str, dict[str, Any]]:
    results = tmp_path / "faults"
    done = subprocess.run([sys.executable, "-m", "loadtests.faults", "--results", str(results),
                           "--traffic-seconds", "2", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, check=False,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    output = done.stdout[-4000:] + done.stderr[-4000:]
    result = json.loads((results / "result.json").read_text()) if \
        (results / "result.json").exists() else {}
    return done.returncode, output, result


def test_short_fault_suite_kill9_and_cli_beside(tmp_path: Path) -> None:
    code, output, result = run_suite(
        tmp_path, "--kinds", "kill9-sqlite,cli-beside", "--rounds",
        "kill9-sqlite=3,cli-beside=2", "--skip-checks", ",".join(PENDING_FIXES), timeout=600)
    assert code == 0, output
    kill9, cli = result["kinds"]["kill9-sqlite"], result["kinds"]["cli-beside"]
    assert len(kill9["rounds"]) == 3 and len(cli["rounds"]) == 2, output
    for r in kill9["rounds"] + cli["rounds"]:
        assert set(r["checks"]) >= ROUND_CHECKS, r["checks"].keys()  # each one ran
        assert r["lost"] == 0 and r["duplicated"] == 0, r
        assert r["acked"] > 0, r  # the clients really wrote
    for r in kill9["rounds"]:
        assert r["recovery_s"] is not None and "killed pid" in r["notes"][0], r
        assert "writes-resume" in r["checks"], r
    for r in cli["rounds"]:
        assert "cli-beside-service" in r["checks"] and r["checks"]["cli-beside-service"] == []
    assert "kill9-sqlite round 3/3" in output  # progress, a line per round
    assert set(result["checks"]) == set(CHECKS)


@pytest.mark.faults_after_fixes
@pytest.mark.postgres
@pytest.mark.skipif(not os.environ.get("REGISTRY_FAULTS_ALL"),
                    reason="every fault kind, two rounds each (a few minutes, PostgreSQL "
                           "restarts, a tmpfs filled up): set REGISTRY_FAULTS_ALL=1")
def test_every_fault_kind_passes_every_check(tmp_path: Path) -> None:
    code, output, result = run_suite(tmp_path, "--rounds", "2", timeout=1200)
    assert code == 0, output
    assert all(len(k["rounds"]) == 2 or k["skipped"] for k in result["kinds"].values())

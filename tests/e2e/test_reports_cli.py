"""The compliance-year and province-wide reports from the command line, and the auditor's zone
check from an export: a transfer doctored to leave its zone is named and fails the check."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from cli import main
from tests.support.registry_helpers import world_codes
from tests.support.world import seed_data_folder

TRANSFERRED = "surplus:Instrument.Transferred.v1"


def run(capsys: pytest.CaptureFixture[str], env: dict[str, str],
        *argv: str) -> tuple[int, str, str]:
    status = main(list(argv), env=env)
    out, err = capsys.readouterr()
    return status, out, err


def test_reports_and_the_zone_check_of_an_export(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    env = seed_data_folder(tmp_path / "data")
    w = world_codes()
    status, out, err = run(capsys, env, "compliance-report", "--enterprise", w.dyeing,
                           "--year", "2025")
    assert status == 0, err
    (cod,) = json.loads(out)["rows"]
    assert (cod["surplus_issued"]["amount"], cod["sold"]["amount"]) == (800, 300)
    status, out, _ = run(capsys, env, "province-report", "--year", "2025", "--format", "csv")
    assert status == 0 and "2025,COD,MAOZHOU,kg/yr,issued,800," in out

    export = tmp_path / "export"
    assert run(capsys, env, "ledger", "export", str(export))[0] == 0
    status, out, err = run(capsys, env, "audit", "zones", str(export), "--year", "2025")
    assert status == 0, err
    assert "OK: 1 zones of 2025" in out

    # the seller's transfer rewritten to a Danshui-basin buyer: COD of the Maozhou basin
    # would have left its zone, and the check names the leaf's position
    entries = export / "entries.jsonl"
    lines = entries.read_text().splitlines()
    for n, line in enumerate(lines):
        entry = json.loads(line)
        leaf = json.loads(base64.b64decode(entry["leaf"]))
        if leaf["topic"] == TRANSFERRED:
            leaf["payload"]["buyer"] = w.chemicals
            entry["leaf"] = base64.b64encode(json.dumps(leaf).encode()).decode()
            lines[n] = json.dumps(entry)
            position = leaf["position"]
    entries.write_text("\n".join(lines) + "\n")
    status, out, err = run(capsys, env, "audit", "zones", str(export), "--year", "2025")
    assert status == 1
    assert f"CROSS-ZONE position {position}: COD-2025-MAOZHOU to {w.chemicals}" in out
    assert "not what its issuance made it" in err

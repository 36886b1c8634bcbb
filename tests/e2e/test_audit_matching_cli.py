"""`registry audit matching DIR`: an auditor re-runs the matching core over an export."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
import rfc8785

from cli import main
from registry.bootstrap import build_registry
from registry.leaves import commitment
from tests.integration.test_exchange_journeys import COD, exchange_world, trading_day


def test_audit_matching_reproduces_trades_and_flags_a_doctored_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data, out = tmp_path / "data", tmp_path / "export"
    app = build_registry({"REGISTRY_DATA_DIR": str(data)})
    w = exchange_world(app)
    trading_day(app, w)
    trades = app.exchange.market(COD).trade_count
    app.close()
    assert main(["--data-dir", str(data), "ledger", "export", str(out)]) == 0
    capsys.readouterr()
    assert main(["audit", "matching", str(out)]) == 0
    assert capsys.readouterr().out.strip().endswith(f"{trades} trades reproduced, 0 differ")

    original = (out / "entries.jsonl").read_text()

    def doctor(*, reseal: bool) -> None:
        """A fill recorded 1 t larger in the export's opening of the first trade; with
        ``reseal`` the leaf's commitment is recomputed to match (a doctored leaf)."""
        lines = original.splitlines()
        for n, line in enumerate(lines):
            entry = json.loads(line)
            record = json.loads(base64.b64decode(entry["leaf"]))
            if record["topic"].endswith("BatchMatched.v1") and "trades/0" in entry.get(
                    "openings", {}):
                opening = entry["openings"]["trades/0"]
                opening["value"][5] += 1_000
                if reseal:
                    record["payload"]["trades"]["commitments"][0] = commitment(
                        bytes.fromhex(opening["salt"]), opening["value"])
                    entry["leaf"] = base64.b64encode(rfc8785.dumps(record)).decode()
                lines[n] = json.dumps(entry)
                break
        (out / "entries.jsonl").write_text("\n".join(lines) + "\n")

    doctor(reseal=True)
    assert main(["audit", "matching", str(out)]) == 1
    text = capsys.readouterr().out
    assert text.strip().endswith(f"{trades - 1} trades reproduced, 1 differ")
    assert "DIFFER" in text

    doctor(reseal=False)  # the opening no longer matches the signed leaf: refused outright
    assert main(["audit", "matching", str(out)]) == 2
    assert "'trades/0' does not open its commitment" in capsys.readouterr().err

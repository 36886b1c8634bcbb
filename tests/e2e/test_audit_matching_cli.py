"""`registry audit matching DIR`: an auditor re-runs the matching core over an export."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from registry.bootstrap import build_registry
from registry.cli import main
from tests.integration.test_exchange_journeys import COD, exchange_world, trading_day


def test_audit_matching_reproduces_trades_and_flags_a_doctored_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data, out = tmp_path / "data", tmp_path / "export"
    app = build_registry({"REGISTRY_DATA_DIR": str(data)})
    w = exchange_world(app)
    trading_day(app, w)
    trades = app.market(COD).trade_count
    app.close()
    assert main(["--data-dir", str(data), "ledger", "export", str(out)]) == 0
    capsys.readouterr()
    assert main(["audit", "matching", str(out)]) == 0
    assert capsys.readouterr().out.strip().endswith(f"{trades} trades reproduced, 0 differ")

    lines = (out / "entries.jsonl").read_text().splitlines()
    for n, line in enumerate(lines):
        entry = json.loads(line)
        record = json.loads(base64.b64decode(entry["leaf"]))
        if record["topic"].endswith("BatchMatched.v1") and record["payload"]["trades"]:
            record["payload"]["trades"][0][5] += 1_000  # a fill recorded 1 t larger
            entry["leaf"] = base64.b64encode(json.dumps(record).encode()).decode()
            lines[n] = json.dumps(entry)
            break
    (out / "entries.jsonl").write_text("\n".join(lines) + "\n")
    assert main(["audit", "matching", str(out)]) == 1
    text = capsys.readouterr().out
    assert text.strip().endswith(f"{trades - 1} trades reproduced, 1 differ")
    assert "DIFFER" in text

"""Each benchmark's ``--json PATH``, on tiny sizes: the file carries the run's command, date,
machine and load average and the figures `loadtests.bench_report` reads, and the report renders
its rows from it (a figure and a verdict, not "not run"). The printed output is still there."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from loadtests import bench_report

ROOT = Path(__file__).resolve().parents[2]
RUN_KEYS = {"command", "date", "cores", "python", "load_average"}


def run_bench(
    module: str, args: list[str], tmp_path: Path, name: str
) -> tuple[dict[str, Any], str]:
    """Run ``python -m loadtests.MODULE ARGS --json`` into a results folder under the name the
    report expects; the JSON object and the printed output."""
    target = tmp_path / bench_report.FILES[name]
    argv = [*args, "--json", str(target)]
    done = subprocess.run([sys.executable, "-m", f"loadtests.{module}", *argv], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    result = json.loads(target.read_text())
    assert result.keys() >= RUN_KEYS
    assert result["command"] == " ".join([".venv/bin/python", "-m", f"loadtests.{module}", *argv])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d\+00:00", result["date"])
    assert result["cores"] == os.cpu_count()
    assert result["python"] == ".".join(map(str, sys.version_info[:3]))
    assert len(result["load_average"]) == 3
    return result, done.stdout


def report_rows(results: Path) -> dict[str, list[str]]:
    """Goal -> [command, figure, goal, verdict], from the report rendered on the folder."""
    section = bench_report.render(bench_report.load(results), results)
    rows = {}
    for r in section.splitlines():
        cells = [c.strip() for c in r.strip("|").split(" | ")]
        if len(cells) == 5:
            rows[cells[0]] = cells[1:]
    return rows


def assert_reported(rows: dict[str, list[str]], goal: str, command: str, figure: str) -> None:
    cmd, shown, _, verdict = rows[goal]
    assert cmd == f"`{command}`"
    assert figure in shown
    assert verdict in ("met", "**not met**", "—")


def test_bench_exchange_json(tmp_path: Path) -> None:
    r, out = run_bench("bench_exchange", ["--orders", "2000", "--batch", "500"], tmp_path,
                       "exchange-sqlite")
    assert "durable throughput:" in out and "store: SQLite" in out
    assert r["store"] == "sqlite" and r["requests"] == 2000
    assert r["book_equal"] and r["units_conserved"] and r["cash_conserved"]
    assert r["orders_per_s"] > 0 and r["cpu_s"] > 0 and r["batch_p99_ms"] >= r["batch_p50_ms"]
    assert_reported(report_rows(tmp_path), "durable orders into SQLite, no HTTP (4)",
                    r["command"], f"**{r['orders_per_s']:,.0f}** orders/s")


@pytest.mark.postgres
def test_bench_exchange_postgres_json(tmp_path: Path) -> None:
    r, out = run_bench("bench_exchange", ["--orders", "2000", "--batch", "500", "--store",
                                          "postgres"], tmp_path, "exchange-postgres")
    assert "store: PostgreSQL (throw-away server" in out
    assert r["store"] == "postgres" and r["requests"] == 2000 and r["accepted"] == 2000
    assert r["book_equal"] and r["units_conserved"] and r["cash_conserved"]
    assert_reported(report_rows(tmp_path), "durable orders into PostgreSQL, no HTTP (4)",
                    r["command"], f"**{r['orders_per_s']:,.0f}** orders/s")


def test_bench_ledger_json(tmp_path: Path) -> None:
    r, out = run_bench("bench_ledger", ["--leaves", "5000", "--proofs", "100",
                                        "--checkpoint-every", "1000"], tmp_path, "ledger")
    assert "append_many" in out and "verify_export" in out
    assert r["leaves"] == 5000 and r["checkpoints"] == 6  # every 1,000 leaves, then the last
    assert r["proof_p99_us"] >= r["proof_p50_us"] > 0
    rows = report_rows(tmp_path)
    assert_reported(rows, "ledger append + periodic checkpoint (3)", r["command"],
                    f"**{r['append_leaves_per_s']:,.0f}** leaves/s")
    assert_reported(rows, "offline verification of an export (3)", r["command"],
                    f"**{r['verify_entries_per_s']:,.0f}** entries/s")
    assert_reported(rows, "inclusion proof p99 (3)", r["command"],
                    f"**{r['proof_p99_us']:.1f} µs**")


def test_bench_replay_json(tmp_path: Path) -> None:
    r, out = run_bench("bench_replay", ["--events", "2000", "--repeats", "1"], tmp_path,
                       "replay")
    assert "replay, 1 process" in out
    assert r["events"] == 2000 and r["repeats"] == 1
    assert r["default_events_per_s"] > 0 and r["one_process_events_per_s"] > 0
    assert_reported(report_rows(tmp_path), "auditor's replay of an export (3)", r["command"],
                    f"**{r['default_events_per_s']:,.0f}** events/s")


def test_bench_matching_json(tmp_path: Path) -> None:
    r, out = run_bench("bench_matching", ["--ops", "2000", "--repeats", "1"], tmp_path,
                       "matching")
    assert "## summary" in out
    assert r["fills_identical"] is True
    for book in ("base", "deep"):
        b = r[book]
        assert b["ours_ops_per_s"] > 0 and b["ours_stp_ops_per_s"] > 0
        # the peers come from the 'bench' extra: with none installed there is no ratio
        assert (b["fastest_peer"] is None) == (b["vs_fastest_peer"] is None) == (
            not b["peers_ops_per_s"])
    assert r["deep_keeps"] == pytest.approx(r["deep"]["ours_ops_per_s"]
                                            / r["base"]["ours_ops_per_s"])
    assert_reported(report_rows(tmp_path), "matching, 8× deeper book keeps (4)", r["command"],
                    f"**{r['deep_keeps']:.0%}**")

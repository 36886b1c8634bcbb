"""The BENCHMARKS.md report block: verdicts computed from the result files, "not run" for a
missing file, and a marker replacement that leaves the rest of the file byte for byte."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from loadtests import bench_report
from loadtests.load_stats import BARE_ROW, ECHO_ROW, ORDER_ROW, compare_names, summary

RUN = {"date": "2026-12-01T19:14+00:00", "cores": 2, "python": "3.11.7",
       "load_average": [0.35, 0.41, 0.55]}


def exchange(orders_per_s: float, store: str = "sqlite", **checks: bool) -> dict[str, Any]:
    return {**RUN, "command": f".venv/bin/python -m loadtests.bench_exchange --store {store}",
            "store": store, "requests": 200_000, "orders_per_s": orders_per_s,
            "seconds": 200_000 / orders_per_s, "cpu_s": 6.4, "orders_per_cpu_s": 31_250,
            "book_equal": True, "units_conserved": True, "cash_conserved": True, **checks}


def ledger(append: float) -> dict[str, Any]:
    return {**RUN, "command": ".venv/bin/python -m loadtests.bench_ledger", "leaves": 1_000_000,
            "checkpoints": 11, "append_leaves_per_s": append, "append_cpu_s": 1.1,
            "verify_entries_per_s": 492_054, "verify_s": 2.03, "proof_p50_us": 9.0,
            "proof_p99_us": 1500.0, "proof_past_p99_us": 18.6}


def matching(ours: float, peer: float, deep_ours: float) -> dict[str, Any]:
    def book(rate: float) -> dict[str, Any]:
        return {"ours_ops_per_s": rate, "ours_stp_ops_per_s": rate, "fastest_peer": "liquibook",
                "peers_ops_per_s": {"liquibook": peer}, "vs_fastest_peer": rate / peer}

    return {**RUN, "command": ".venv/bin/python -m loadtests.bench_matching",
            "base": book(ours), "deep": book(deep_ours), "deep_keeps": deep_ours / ours,
            "deep_keeps_stp": deep_ours / ours, "fills_identical": True}


def http(orders_rps: float, echo_rps: float, p99: float, users: int = 50) -> dict[str, Any]:
    """A `loadtests.run_load` summary.json, as `load_stats.summary` shapes it."""
    def stat(rps: float, p99_ms: float) -> dict[str, float]:
        return {"requests": 1000, "failures": 0, "rps": rps, "p50": 12, "p95": 30, "p99": p99_ms}

    orders, echo = stat(orders_rps, 900), stat(echo_rps, 400)
    return {"store": "sqlite", "workers": 1, "users": users, "seconds": 60,
            "date": "2026-12-01T19:30+00:00", "cores": 2, "python": "3.11.7",
            "command": ".venv/bin/python -m loadtests.run_load --compare",
            "runs": {"realistic": {ORDER_ROW: stat(50, p99), "Aggregated": stat(400, p99)},
                     "orders": {ORDER_ROW: orders}, "echo": {ECHO_ROW: echo}},
            "compare": {"seconds": 20, "orders": orders, "echo": echo,
                        "ratio": orders_rps / echo_rps},
            "checks": [{"ok": True, "check": "every acknowledged order stored once"}]}


def write(results: Path, files: dict[str, dict[str, Any]]) -> Path:
    for name, body in files.items():
        path = results / bench_report.FILES[name]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(body))
    return results


def goal_rows(section: str) -> dict[str, list[str]]:
    """Goal -> [command, figure, goal, verdict] from the rendered goals table."""
    lines = section.splitlines()
    start = lines.index("| goal (issue) | command | figure | goal | verdict |")
    out = {}
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split(" | ")]
        out[cells[0]] = cells[1:]
    return out


def rendered(results: Path) -> str:
    return bench_report.render(bench_report.load(results), results)


def test_verdicts_come_from_the_figures_and_a_missing_file_is_not_run(tmp_path: Path) -> None:
    results = write(tmp_path, {"exchange-sqlite": exchange(25_000),
                               "ledger": ledger(append=400_000),
                               "matching": matching(ours=1.8e6, peer=1.0e6, deep_ours=1.2e6)})
    rows = goal_rows(rendered(results))

    command, figure, _, verdict = rows["durable orders into SQLite, no HTTP (4)"]
    assert verdict == "met"
    assert "**25,000** orders/s" in figure
    assert command == "`.venv/bin/python -m loadtests.bench_exchange --store sqlite`"

    assert rows["ledger append + periodic checkpoint (3)"][3] == "**not met**"
    assert "**400,000** leaves/s" in rows["ledger append + periodic checkpoint (3)"][1]
    assert rows["offline verification of an export (3)"][3] == "met"
    assert rows["inclusion proof p99 (3)"][3] == "**not met**"  # 1,500 µs
    assert rows["matching vs fastest peer, base book (4)"][3] == "met"  # 1.80×
    assert "**1.80×** liquibook" in rows["matching vs fastest peer, base book (4)"][1]
    assert rows["matching, 8× deeper book keeps (4)"][3] == "**not met**"  # 67%

    for goal in ("auditor's replay of an export (3)", "durable orders into PostgreSQL, no HTTP (4)",
                 "HTTP orders vs `/bench/echo`, same run, SQLite (6)"):
        assert rows[goal][1:] == ["not run", rows[goal][2], "not run"]
        assert rows[goal][0] == "—"  # no command: nothing produced a figure


def test_matching_needs_identical_fills_and_a_peer(tmp_path: Path) -> None:
    goal = "matching vs fastest peer, base book (4)"
    differ = {**matching(ours=3e6, peer=1e6, deep_ours=3e6), "fills_identical": False}
    _, figure, _, verdict = goal_rows(rendered(write(tmp_path / "a", {"matching": differ})))[goal]
    assert verdict == "**not met**" and "fills **differ**" in figure
    alone = matching(ours=3e6, peer=1e6, deep_ours=3e6)
    for book in ("base", "deep"):
        alone[book].update(peers_ops_per_s={}, fastest_peer=None, vs_fastest_peer=None)
    _, figure, _, verdict = goal_rows(rendered(write(tmp_path / "b", {"matching": alone})))[goal]
    assert (figure, verdict) == ("ours 3,000,000 ops/s; no peer ran", "not run")


def test_durable_goal_fails_below_the_rate_or_on_a_failed_check(tmp_path: Path) -> None:
    goal = "durable orders into SQLite, no HTTP (4)"
    slow = write(tmp_path / "slow", {"exchange-sqlite": exchange(15_000)})
    assert goal_rows(rendered(slow))[goal][3] == "**not met**"
    broken = write(tmp_path / "broken", {"exchange-sqlite": exchange(90_000, book_equal=False)})
    _, figure, _, verdict = goal_rows(rendered(broken))[goal]
    assert verdict == "**not met**"
    assert "failed: book equals its rebuild" in figure


def test_postgres_durable_path_is_reported_beside_sqlite_without_a_goal(tmp_path: Path) -> None:
    results = write(tmp_path, {"exchange-postgres": exchange(12_345, store="postgres")})
    _, figure, target, verdict = goal_rows(rendered(results))[
        "durable orders into PostgreSQL, no HTTP (4)"]
    assert "**12,345** orders/s" in figure and "server's not counted" in figure
    assert (target, verdict) == ("reported beside SQLite", "—")


def test_http_goals_from_run_load_summaries(tmp_path: Path) -> None:
    results = write(tmp_path, {"http-sqlite": http(orders_rps=600, echo_rps=1000, p99=40),
                               "http-postgres": http(orders_rps=300, echo_rps=1000, p99=40,
                                                     users=20)})
    section = rendered(results)
    rows = goal_rows(section)
    assert rows["HTTP orders vs `/bench/echo`, same run, SQLite (6)"][3] == "met"  # 60%
    assert rows["HTTP orders vs `/bench/echo`, same run, PostgreSQL (6)"][3] == "**not met**"
    assert rows["HTTP order p99, realistic run, SQLite (6)"][3] == "met"
    # p99 under 50 ms, but not at the 50 users the goal names
    assert rows["HTTP order p99, realistic run, PostgreSQL (6)"][3] == "**not met**"
    assert "at 20 users" in rows["HTTP order p99, realistic run, PostgreSQL (6)"][1]
    side_by_side = {line.split(" | ")[0]: line for line in section.splitlines()}
    assert side_by_side[f"| saturation: `{ECHO_ROW}` req/s"].endswith("| 1,000 | 1,000 |")
    assert side_by_side["| saturation: orders p99 ms"].endswith("| 900 | 900 |")


def test_machine_table_shows_each_runs_load_average(tmp_path: Path) -> None:
    results = write(tmp_path, {"ledger": ledger(600_000), "http-sqlite": http(600, 1000, 40)})
    lines = rendered(results).splitlines()
    row = "| ledger | 2026-12-01T19:14+00:00 | not recorded | 2 | 3.11.7 | 0.35, 0.41, 0.55 |"
    assert row in lines
    assert "| replay | not run | | | | |" in lines
    # a summary.json without a load average (older runs): said so, not invented
    assert ("| http-sqlite | 2026-12-01T19:30+00:00 | not recorded | 2 | 3.11.7 | not in its "
            "result file |") in lines


TAIL = ("## Summary\r\n\r\nhand-written, CRLF, trailing space \n| a | b |\n"
        "\u2265 1.5\u00d7 no final newline")


def test_first_time_the_block_goes_at_the_very_top_and_the_rest_is_kept(tmp_path: Path) -> None:
    out = tmp_path / "BENCHMARKS.md"
    out.write_bytes(TAIL.encode())
    bench_report.update(out, "## Latest\n\nfirst\n")
    block = f"{bench_report.BEGIN}\n## Latest\n\nfirst\n{bench_report.END}\n\n"
    assert out.read_bytes() == (block + TAIL).encode()


def test_later_runs_replace_only_the_block_and_are_idempotent(tmp_path: Path) -> None:
    head = "# Benchmarks\r\n\r\n"
    out = tmp_path / "BENCHMARKS.md"
    out.write_bytes((head + f"{bench_report.BEGIN}\nold\n{bench_report.END}" + TAIL).encode())
    bench_report.update(out, "new\n")
    once = out.read_bytes()
    assert once == (head + f"{bench_report.BEGIN}\nnew\n{bench_report.END}" + TAIL).encode()
    bench_report.update(out, "new\n")
    assert out.read_bytes() == once


def test_a_lone_or_misordered_marker_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="expected one"):
        bench_report.replace_block(f"text {bench_report.BEGIN} more", "x\n")
    with pytest.raises(ValueError, match="expected one"):
        bench_report.replace_block(f"{bench_report.END} then {bench_report.BEGIN}", "x\n")


def test_command_line_renders_the_folder_into_the_file(tmp_path: Path) -> None:
    results = write(tmp_path / "bench", {"replay": {
        **RUN, "command": ".venv/bin/python -m loadtests.bench_replay --events 100000",
        "events": 100_000, "repeats": 3, "one_process_events_per_s": 95_000,
        "default_events_per_s": 130_000}})
    out = tmp_path / "BENCHMARKS.md"
    out.write_bytes(TAIL.encode())
    assert bench_report.main(["--results", str(results), "--out", str(out)]) == 0
    first = out.read_bytes()
    section = first.decode()[:first.decode().index(bench_report.END)]
    _, figure, _, verdict = goal_rows(section)["auditor's replay of an export (3)"]
    assert verdict == "met" and "**130,000** events/s" in figure and "95,000" in figure
    assert "(1 of 8 found, dated 2026-12-01T19:14+00:00 to" in " ".join(section.split())
    bench_report.main(["--results", str(results), "--out", str(out)])
    assert out.read_bytes() == first


def test_each_run_names_the_code_it_measured(tmp_path: Path) -> None:
    import subprocess

    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=bench_report.ROOT,
                          text=True, capture_output=True, check=True).stdout.strip()
    version = bench_report.code_version()
    assert version in (head, f"{head}+changes")
    assert bench_report.run_info("loadtests.bench_ledger", [])["code"] == version
    results = write(tmp_path, {"ledger": {**ledger(903_469), "code": "abc1234"}})
    assert "| ledger | 2026-12-01T19:14+00:00 | abc1234 | 2 |" in rendered(results)


def test_the_bare_comparison_and_the_bulk_run_have_rows_of_their_own() -> None:
    summary = {"workers": 1, "users": 50, "compare": {
        "seconds": 20, "orders": {"rps": 600.0}, "echo": {"rps": 900.0}, "ratio": 0.67,
        "bare_rps": 1000.0, "bare_runs": [{"rps": 1100.0}, {"rps": 900.0}],
        "echo_vs_bare": 0.9, "orders_vs_bare": 0.6}}
    echo, orders = bench_report.http_bare_rows(summary, "http-sqlite", "SQLite")
    assert echo.verdict == "met" and "**90%**" in echo.figure and "1,100 and 900" in echo.figure
    assert orders.verdict == "met" and "**60%**" in orders.figure
    summary["compare"]["orders_vs_bare"] = 0.59
    assert bench_report.http_bare_rows(summary, "http-sqlite", "SQLite")[1].verdict != "met"
    bulk = {"orders_per_s": 19_000.0, "acked": 200_000, "seconds": 10.5, "clients": 4,
            "items": 1000, "request_p99_ms": 300.0, "ratio": 0.8,
            "in_process_orders_per_s": 23_750.0, "failures": 0, "checks_failed": []}
    row = bench_report.bulk_row(bulk)
    assert row.verdict != "met" and "**19,000** orders/s" in row.figure
    assert bench_report.bulk_row({**bulk, "orders_per_s": 21_000.0}).verdict == "met"
    assert bench_report.bulk_row(None).verdict == bench_report.NOT_RUN


def test_the_bulk_row_reports_the_median_run_and_fails_on_any_failed_run() -> None:
    def one(rate: float, *, failures: int = 0, checks: list[str] | None = None
            ) -> dict[str, Any]:
        return {"orders_per_s": rate, "acked": 198_000, "seconds": 198_000 / rate,
                "request_p99_ms": 250.0, "failures": failures, "checks_failed": checks or []}
    runs = [one(24_500.0), one(19_600.0), one(21_000.0)]
    median = {**runs[2], "clients": 4, "items": 1000, "ratio": 1.4,
              "in_process_orders_per_s": 15_000.0, "runs": runs}
    row = bench_report.bulk_row(median)
    assert row.verdict == "met" and "**21,000** orders/s" in row.figure
    assert "the median of 3 runs on fresh data: 24,500, 19,600, 21,000 orders/s" in row.figure
    broken = {**median, "runs": [runs[0], one(19_600.0, checks=["books differ"]), runs[2]]}
    row = bench_report.bulk_row(broken)
    assert row.verdict != "met" and "books differ" in row.figure
    slow = {**median, **runs[1], "runs": runs}
    assert bench_report.bulk_row(slow).verdict != "met"


def test_each_saturation_round_is_measured_against_its_own_bare_runs_and_the_median_counts(
) -> None:
    names = [name for name, _, _ in compare_names(3)]
    assert names == ["bare", "echo", "orders", "bare-2", "echo-2", "orders-2", "bare-3",
                     "echo-3", "orders-3", "bare-again"]
    assert [n for n, _, _ in compare_names(1)] == ["bare", "echo", "orders", "bare-again"]
    bare = {"bare": 1000.0, "bare-2": 800.0, "bare-3": 1200.0, "bare-again": 1000.0}
    orders = {"orders": 540.0, "orders-2": 700.0, "orders-3": 550.0}  # 60%, 70%, 50%
    stats: dict[str, dict[str, dict[str, float]]] = {
        **{run: {BARE_ROW: {"rps": rps}} for run, rps in bare.items()},
        **{run: {ORDER_ROW: {"rps": rps}} for run, rps in orders.items()},
        **{f"echo{t}": {ECHO_ROW: {"rps": 1500.0}} for t in ("", "-2", "-3")}}
    c = summary(stats, store="sqlite", workers=1, users=50, seconds=60, compare_seconds=20,
                compare_rounds=3)["compare"]
    assert [r["bare_rps"] for r in c["rounds"]] == [900.0, 1000.0, 1100.0]
    assert [round(r["orders_vs_bare"], 2) for r in c["rounds"]] == [0.6, 0.7, 0.5]
    assert c["round"] == 1 and c["orders"] == {"rps": 540.0} and c["bare_rps"] == 900.0
    assert round(c["orders_vs_bare"], 2) == 0.6 and c["seconds"] == 20
    _, row = bench_report.http_bare_rows({"workers": 1, "users": 50, "compare": c},
                                         "http-sqlite", "SQLite")
    assert "**60%**" in row.figure and "median of 3 rounds by orders / bare: 60%, 70%, 50%" \
        in row.figure and row.verdict == "met"
    with pytest.raises(ValueError):
        compare_names(0)

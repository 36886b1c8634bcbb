"""The performance report: the block at the top of BENCHMARKS.md, rendered from one `make bench`.

Every benchmark of `make bench` writes its figures as one JSON object into one folder (default
``loadtests/results/bench/``): the in-process scripts through their ``--json PATH`` option
(`run_info` and `write_result` below give them the same run keys), the HTTP load runs as the
``summary.json`` that `loadtests.run_load` keeps in its results folder. This module reads that
folder alone, renders one Markdown section (date, machine and load average of each run, then one
row per goal with the command, the figure, the goal and whether it is met, then the HTTP figures
of SQLite and PostgreSQL side by side) and replaces the text between the two markers of
BENCHMARKS.md with it, leaving the rest of the file byte for byte. A file that is missing shows
as "not run"; no figure comes from anywhere but the files.

Run: ``.venv/bin/python -m loadtests.bench_report [--results DIR] [--out BENCHMARKS.md]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from loadtests.load_stats import ECHO_ROW, ORDER_ROW

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_RESULTS = ROOT / "loadtests" / "results" / "bench"
BEGIN = "<!-- bench-report:begin -->"
END = "<!-- bench-report:end -->"
NOT_RUN = "not run"
NO_GOAL = "—"
MARKET_ROW = ORDER_ROW.replace("(limit)", "(market)")

# run name -> its file in the results folder; the Makefile's `bench` target writes these
FILES = {
    "matching": "matching.json",
    "exchange-sqlite": "exchange-sqlite.json",
    "exchange-postgres": "exchange-postgres.json",
    "ledger": "ledger.json",
    "replay": "replay.json",
    "http-sqlite": "http-sqlite/summary.json",
    "http-postgres": "http-postgres/summary.json",
    "bulk": "bulk.json",
}
HTTP_RUNS = (("http-sqlite", "SQLite"), ("http-postgres", "PostgreSQL"))

Runs = dict[str, dict[str, Any] | None]


# -- what the benchmarks write ---------------------------------------------------------------


def run_info(module: str, argv: Sequence[str]) -> dict[str, Any]:
    """The keys every result file carries about its run. Called when the benchmark starts, so
    the load average is the one its figures were measured under (the machine is shared)."""
    return {
        "command": shlex.join([".venv/bin/python", "-m", module, *argv]),
        "date": datetime.now(UTC).isoformat(timespec="minutes"),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "code": code_version(),
    }


def code_version() -> str:
    """The commit the benchmark ran (``+changes`` when the tree differed from it), so a figure
    can be traced to its code; "unknown" outside a git checkout."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True,
                              capture_output=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=ROOT, text=True, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+changes" if dirty.strip() else "")


def write_result(path: Path, run: dict[str, Any], figures: dict[str, Any]) -> None:
    """One JSON object: the run's keys and the benchmark's figures, side by side."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**run, **figures}, indent=1) + "\n")


# -- reading ---------------------------------------------------------------------------------


def load(results: Path) -> Runs:
    """Run name -> its JSON object, or None when the file is missing."""
    out: Runs = {}
    for name, file in FILES.items():
        path = results / file
        out[name] = json.loads(path.read_text()) if path.exists() else None
    return out


# -- rendering helpers -----------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    goal: str
    run: str | None  # whose command produced the figure; None when no run is concerned
    figure: str
    target: str
    verdict: str


def verdict(ok: bool) -> str:
    return "met" if ok else "**not met**"


def n(x: float) -> str:
    return f"{x:,.0f}"


def not_run(goal: str, target: str) -> Row:
    return Row(goal, None, NOT_RUN, target, NOT_RUN)


def cell(text: str) -> str:
    """Table cells cannot hold a bare pipe."""
    return text.replace("|", "\\|")


# -- one row per goal ------------------------------------------------------------------------


def matching_rows(m: dict[str, Any] | None) -> list[Row]:
    peer_goal, keep_goal = "≥ 1.5× the fastest peer", "≥ 70%"
    vs_peer, keeps = "matching vs fastest peer, base book (4)", "matching, 8× deeper book keeps (4)"
    if m is None:
        return [not_run(vs_peer, peer_goal), not_run(keeps, keep_goal)]
    base, deep = m["base"], m["deep"]
    differ = "" if m["fills_identical"] else "; a peer's fills **differ** from ours"
    if base["fastest_peer"] is None:
        peer = Row(vs_peer, "matching", f"ours {n(base['ours_ops_per_s'])} ops/s; no peer ran",
                   peer_goal, NOT_RUN)
    else:
        ratio = base["vs_fastest_peer"]
        peer = Row(vs_peer, "matching",
                   f"ours {n(base['ours_ops_per_s'])} ops/s = **{ratio:.2f}×** "
                   f"{base['fastest_peer']} ({n(base['peers_ops_per_s'][base['fastest_peer']])} "
                   f"ops/s); 8× deeper {deep['vs_fastest_peer']:.2f}× {deep['fastest_peer']}"
                   + differ, peer_goal, verdict(ratio >= 1.5 and m["fills_identical"]))
    kept = Row(keeps, "matching",
               f"**{m['deep_keeps']:.0%}** ({n(deep['ours_ops_per_s'])} vs "
               f"{n(base['ours_ops_per_s'])} ops/s); with STP firing {m['deep_keeps_stp']:.0%}",
               keep_goal, verdict(m["deep_keeps"] >= 0.70))
    return [peer, kept]


def exchange_checks(e: dict[str, Any]) -> list[str]:
    """The checks the durable benchmark makes after reopening the store, that failed."""
    names = {"book_equal": "book equals its rebuild", "units_conserved": "units conserved",
             "cash_conserved": "cash conserved"}
    return [text for key, text in names.items() if not e[key]]


def exchange_row(e: dict[str, Any] | None, store: str) -> Row:
    sqlite = store == "sqlite"
    goal = f"durable orders into {'SQLite' if sqlite else 'PostgreSQL'}, no HTTP (4)"
    target = "≥ 20,000 orders/s" if sqlite else "reported beside SQLite"
    if e is None:
        return not_run(goal, target)
    failed = exchange_checks(e)
    server = "" if sqlite else ", the server's not counted"
    figure = (f"**{n(e['orders_per_s'])}** orders/s ({e['requests']:,} requests in "
              f"{e['seconds']:.2f} s; process CPU {e['cpu_s']:.2f} s = "
              f"{n(e['orders_per_cpu_s'])} per CPU-second{server})")
    if failed:
        figure += "; **failed: " + ", ".join(failed) + "**"
    ok = e["orders_per_s"] >= 20_000 and not failed
    return Row(goal, f"exchange-{store}", figure, target, verdict(ok) if sqlite else NO_GOAL)


def ledger_rows(le: dict[str, Any] | None) -> list[Row]:
    goals = (("ledger append + periodic checkpoint (3)", "≥ 500,000 leaves/s"),
             ("offline verification of an export (3)", "≥ 200,000 entries/s"),
             ("inclusion proof p99 (3)", "< 1 ms"))
    if le is None:
        return [not_run(goal, target) for goal, target in goals]
    leaves = le["leaves"]
    figures = (
        (f"**{n(le['append_leaves_per_s'])}** leaves/s ({leaves:,} leaves, "
         f"{le['checkpoints']} checkpoints; CPU {le['append_cpu_s']:.2f} s)",
         le["append_leaves_per_s"] >= 500_000),
        (f"**{n(le['verify_entries_per_s'])}** entries/s ({leaves:,} in {le['verify_s']:.2f} s)",
         le["verify_entries_per_s"] >= 200_000),
        (f"**{le['proof_p99_us']:.1f} µs** on a {leaves:,}-leaf log (p50 "
         f"{le['proof_p50_us']:.1f} µs; random past size p99 {le['proof_past_p99_us']:.1f} µs)",
         le["proof_p99_us"] < 1000),
    )
    return [Row(goal, "ledger", figure, target, verdict(ok))
            for (goal, target), (figure, ok) in zip(goals, figures, strict=True)]


def replay_row(r: dict[str, Any] | None) -> Row:
    goal, target = "auditor's replay of an export (3)", "≥ 100,000 events/s"
    if r is None:
        return not_run(goal, target)
    return Row(goal, "replay",
               f"**{n(r['default_events_per_s'])}** events/s as `registry audit replay` runs it "
               f"(one process {n(r['one_process_events_per_s'])}; {r['events']:,} events, best "
               f"of {r['repeats']})", target, verdict(r["default_events_per_s"] >= 100_000))


def bulk_row(b: dict[str, Any] | None) -> Row:
    """The run with the median rate, beside every run's rate (`loadtests.bench_bulk --runs`);
    met when the median reaches the target and no run failed a request or a check."""
    goal, target = "bulk order entry over HTTP, SQLite (16)", "≥ 20,000 orders/s"
    if b is None:
        return not_run(goal, target)
    runs = b.get("runs", [b])  # a result file from before --runs holds its one run
    failed = [r for r in runs if r["failures"] or r["checks_failed"]]
    figure = (f"**{n(b['orders_per_s'])}** orders/s stored ({b['acked']:,} in "
              f"{b['seconds']:.2f} s, {b['clients']} clients, {b['items']:,} orders a request, "
              f"request p99 {b['request_p99_ms']:.0f} ms) = {b['ratio']:.0%} of the in-process "
              f"exchange's {n(b['in_process_orders_per_s'])} in the same run")
    if len(runs) > 1:
        figure += (f"; the median of {len(runs)} runs on fresh data: "
                   + ", ".join(n(r["orders_per_s"]) for r in runs) + " orders/s")
    for r in failed:
        figure += f"; **{r['failures']} requests failed, checks failed: {r['checks_failed']}**"
    return Row(goal, "bulk", figure, target,
               verdict(b["orders_per_s"] >= 20_000 and not failed))


def http_label(s: dict[str, Any], name: str) -> str:
    return f"{name}, {s['workers']} worker{'s' if s['workers'] != 1 else ''}"


def http_ratio_row(s: dict[str, Any] | None, run: str, name: str) -> Row:
    goal, target = f"HTTP orders vs `/bench/echo`, same run, {name} (6)", "≥ 40%"
    if s is None:
        return not_run(goal, target)
    c = s.get("compare")
    if not c or c.get("ratio") is None:
        return Row(goal, run, "no saturation comparison in this run", target, NOT_RUN)
    return Row(goal, run,
               f"**{c['ratio']:.0%}**: {n(c['orders']['rps'])} orders/s vs "
               f"{n(c['echo']['rps'])} req/s ({http_label(s, name)}, {s['users']} users, "
               f"{c['seconds']} s each)", target, verdict(c["ratio"] >= 0.40))


def http_bare_rows(s: dict[str, Any] | None, run: str, name: str) -> list[Row]:
    """Issue 16: the trivial authenticated endpoint and limit-order submission as shares of a
    bare FastAPI app (`loadtests.bare_app`) saturated in the same run."""
    goals = [(f"`/bench/echo` vs bare FastAPI, same run, {name} (16)", "≥ 80% of bare",
              "echo", "echo_vs_bare", 0.80),
             (f"HTTP orders vs bare FastAPI, same run, {name} (16)", "≥ 60% of bare",
              "orders", "orders_vs_bare", 0.60)]
    out = []
    for goal, target, what, key, floor in goals:
        c = (s or {}).get("compare") or {}
        if s is None:
            out.append(not_run(goal, target))
        elif c.get(key) is None:
            out.append(Row(goal, run, "no bare FastAPI comparison in this run", target,
                           NOT_RUN))
        else:
            bare = " and ".join(n(r["rps"]) for r in c["bare_runs"] if r)
            rounds = c.get("rounds", [])
            median = ("" if len(rounds) < 2 else
                      f"; round {c['round']}, the median of {len(rounds)} rounds by orders / "
                      "bare: " + ", ".join(f"{r[key] or 0:.0%}" for r in rounds))
            out.append(Row(goal, run,
                           f"**{c[key]:.0%}**: {n(c[what]['rps'])} req/s vs bare "
                           f"{n(c['bare_rps'])} (mean of {bare}, before and after; "
                           f"{http_label(s, name)}, {s['users']} users, {c['seconds']} s each"
                           f"{median})", target, verdict(c[key] >= floor)))
    return out


def http_p99_row(s: dict[str, Any] | None, run: str, name: str) -> Row:
    goal, target = (f"HTTP order p99, realistic run, {name} (6)",
                    "≤ 50 ms at 50 users, no failures")
    if s is None:
        return not_run(goal, target)
    realistic = s["runs"].get("realistic") or {}
    orders, total = realistic.get(ORDER_ROW), realistic.get("Aggregated")
    if not orders or not total:
        return Row(goal, run, "no realistic run in this summary", target, NOT_RUN)
    figure = (f"limit orders p99 **{orders['p99']:.0f} ms** (p50 {orders['p50']:.0f}, p95 "
              f"{orders['p95']:.0f}) at {s['users']} users, {http_label(s, name)}; "
              f"{int(total['failures'])} failures of {int(total['requests']):,} requests")
    ok = orders["p99"] <= 50 and total["failures"] == 0 and s["users"] == 50
    return Row(goal, run, figure, target, verdict(ok))


def rows(runs: Runs) -> list[Row]:
    out = [*matching_rows(runs["matching"]),
           exchange_row(runs["exchange-sqlite"], "sqlite"),
           exchange_row(runs["exchange-postgres"], "postgres"),
           *ledger_rows(runs["ledger"]),
           replay_row(runs["replay"])]
    out += [http_ratio_row(runs[run], run, name) for run, name in HTTP_RUNS]
    out += [row for run, name in HTTP_RUNS for row in http_bare_rows(runs[run], run, name)]
    out += [http_p99_row(runs[run], run, name) for run, name in HTTP_RUNS]
    out.append(bulk_row(runs.get("bulk")))
    return out


# -- the HTTP figures side by side -----------------------------------------------------------


def _stat(row: dict[str, Any] | None, key: str, fmt: Callable[[float], str]) -> str:
    return fmt(row[key]) if row else NOT_RUN


def http_table(runs: Runs) -> list[str]:
    """Metric rows, one column per store: what issue 6 asks to see side by side."""
    def ms(x: float) -> str:
        return f"{x:.0f}"

    def column(s: dict[str, Any] | None) -> list[str]:
        if s is None:
            return [NOT_RUN] * len(metrics)
        c = s.get("compare") or {}
        orders, echo = c.get("orders"), c.get("echo")
        realistic = s["runs"].get("realistic") or {}
        limit, market = realistic.get(ORDER_ROW), realistic.get(MARKET_ROW)
        total = realistic.get("Aggregated")
        checks = s.get("checks", [])
        return [
            f"{s['workers']}, {s['users']}",
            _stat(orders, "rps", n), _stat(orders, "p50", ms), _stat(orders, "p95", ms),
            _stat(orders, "p99", ms), _stat(echo, "rps", n),
            f"{c['ratio']:.0%}" if c.get("ratio") is not None else NOT_RUN,
            n(c["bare_rps"]) if c.get("bare_rps") else NOT_RUN,
            f"{c['echo_vs_bare']:.0%}" if c.get("echo_vs_bare") else NOT_RUN,
            f"{c['orders_vs_bare']:.0%}" if c.get("orders_vs_bare") else NOT_RUN,
            " / ".join(_stat(limit, k, ms) for k in ("p50", "p95", "p99")),
            " / ".join(_stat(market, k, ms) for k in ("p50", "p95", "p99")),
            f"{int(total['requests']):,}, {int(total['failures'])}" if total else NOT_RUN,
            f"{sum(ch['ok'] for ch in checks)} of {len(checks)}",
        ]

    metrics = [
        "workers, users",
        f"saturation: `{ORDER_ROW}` orders/s", "saturation: orders p50 ms",
        "saturation: orders p95 ms", "saturation: orders p99 ms",
        f"saturation: `{ECHO_ROW}` req/s", "saturation: orders / echo",
        "saturation: bare FastAPI req/s (mean of before and after)",
        "saturation: echo / bare", "saturation: orders / bare",
        "realistic run: limit orders p50 / p95 / p99 ms",
        "realistic run: market orders p50 / p95 / p99 ms",
        "realistic run: requests, failures", "checks passed (nothing lost, ledger, replay)",
    ]
    columns = [column(runs[run]) for run, _ in HTTP_RUNS]
    lines = ["| HTTP under Locust | " + " | ".join(name for _, name in HTTP_RUNS) + " |",
             "|---|" + "---:|" * len(HTTP_RUNS)]
    for i, metric in enumerate(metrics):
        lines.append(f"| {metric} | " + " | ".join(cell(col[i]) for col in columns) + " |")
    return lines


# -- the section -----------------------------------------------------------------------------


def command(runs: Runs, run: str | None) -> str:
    found = runs.get(run) if run else None
    return f"`{found['command']}`" if found else NO_GOAL


def load_average(run: dict[str, Any]) -> str:
    found = run.get("load_average")
    return ", ".join(f"{x:.2f}" for x in found) if found else "not in its result file"


def machine_table(runs: Runs) -> list[str]:
    lines = ["| run | date (UTC) | code | cores | Python | load average at start (1, 5, 15 min) |",
             "|---|---|---|---:|---|---|"]
    for name, run in runs.items():
        if run is None:
            lines.append(f"| {name} | {NOT_RUN} | | | | |")
        else:
            lines.append(f"| {name} | {run['date']} | {run.get('code', 'not recorded')} | "
                         f"{run['cores']} | {run['python']} | {load_average(run)} |")
    return lines


def goal_table(runs: Runs) -> list[str]:
    lines = ["| goal (issue) | command | figure | goal | verdict |", "|---|---|---|---|---|"]
    for r in rows(runs):
        lines.append(f"| {r.goal} | {cell(command(runs, r.run))} | {cell(r.figure)} | "
                     f"{r.target} | {r.verdict} |")
    return lines


def shown(path: Path) -> str:
    """The results folder as a reader of the repository would type it."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def render(runs: Runs, results: Path) -> str:
    dates = sorted(run["date"] for run in runs.values() if run is not None)
    found = f"{len(dates)} of {len(runs)} found" + (f", dated {dates[0]} to {dates[-1]}"
                                                     if dates else "")
    intro = (f"Rendered by `.venv/bin/python -m loadtests.bench_report` from the result files of "
             f"one `make bench` in `{shown(results)}/` ({found}). Every figure comes from those "
             "files; a run whose file is missing shows as \"not run\". The machine is shared: "
             "each run's load average at its start is shown with it.")
    intro = textwrap.fill(intro, width=100, break_long_words=False, break_on_hyphens=False)
    parts = ["## Latest `make bench`", "", intro, "", *machine_table(runs), "",
             *goal_table(runs), "", *http_table(runs)]
    return "\n".join(parts) + "\n"


def replace_block(text: str, section: str, *, begin_marker: str = BEGIN,
                  end_marker: str = END) -> str:
    """The text with the block between the markers replaced by ``section``; the first time,
    the markers and the section go at the very top. Everything else is kept as it is."""
    block = f"{begin_marker}\n{section}{end_marker}"
    begins, ends = text.count(begin_marker), text.count(end_marker)
    if begins == ends == 0:
        return f"{block}\n\n{text}"
    begin, end = text.find(begin_marker), text.find(end_marker)
    if begins != 1 or ends != 1 or end < begin:
        raise ValueError(f"expected one {begin_marker} followed by one {end_marker}")
    return text[:begin] + block + text[end + len(end_marker):]


def update(out: Path, section: str, *, begin_marker: str = BEGIN,
           end_marker: str = END) -> None:
    # bytes in, bytes out: text mode would translate line endings outside the block
    text = out.read_bytes().decode("utf-8") if out.exists() else ""
    out.write_bytes(replace_block(text, section, begin_marker=begin_marker,
                                  end_marker=end_marker).encode("utf-8"))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--results", type=Path, default=DEFAULT_RESULTS,
                   help="folder of one `make bench` (default loadtests/results/bench)")
    p.add_argument("--out", type=Path, default=ROOT / "BENCHMARKS.md")
    args = p.parse_args(argv)
    runs = load(args.results)
    update(args.out, render(runs, args.results))
    missing = [name for name, run in runs.items() if run is None]
    print(f"{args.out}: report block rendered from {args.results}"
          + (f"; not run: {', '.join(missing)}" if missing else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

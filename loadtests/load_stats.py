"""Locust's CSV statistics of a load run: thresholds and the figures for BENCHMARKS.md.

Locust writes ``NAME_stats.csv`` with one row per request name plus ``Aggregated``;
percentiles are in milliseconds (Locust rounds times above 100 ms to 10 ms), ``Requests/s``
is the count over the whole run (ramp-up included).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

ORDER_ROW = "POST /markets/[instrument]/orders (limit)"
ECHO_ROW = "POST /bench/echo"
BARE_ROW = "POST /bench/echo (bare FastAPI)"


def read(results: Path, name: str) -> dict[str, dict[str, float]]:
    """Request name -> {requests, failures, rps, p50, p95, p99} of one Locust run."""
    path = results / f"{name}_stats.csv"
    if not path.exists():
        return {}
    out: dict[str, dict[str, float]] = {}
    with path.open() as f:
        for row in csv.DictReader(f):
            out[row["Name"] if row["Name"] != "Aggregated" else "Aggregated"] = {
                "requests": int(row["Request Count"]),
                "failures": int(row["Failure Count"]),
                "rps": float(row["Requests/s"]),
                "p50": _ms(row["50%"]), "p95": _ms(row["95%"]), "p99": _ms(row["99%"]),
            }
    return out


def _ms(text: str) -> float:
    return float(text) if text not in ("", "N/A") else 0.0


def thresholds(stats: dict[str, dict[str, float]], *, max_failure_ratio: float, p95_ms: float,
               p99_ms: float, min_samples: int = 100) -> list[tuple[bool, str]]:
    """The exit-code thresholds of the realistic run: the failure ratio over every request, and
    p95 and p99 of every request kind with at least ``min_samples`` requests. The auth probes
    (one per user, at spawn, against a cold service) are left out of the latency thresholds."""
    total = stats.get("Aggregated")
    if not total or not total["requests"]:
        return [(False, "the realistic run made no requests")]
    ratio = total["failures"] / total["requests"]
    out = [(ratio <= max_failure_ratio,
            f"failure ratio {ratio:.4%} ({int(total['failures'])} of {int(total['requests']):,}) "
            f"<= {max_failure_ratio:.2%}")]
    placed = stats.get(ORDER_ROW, {}).get("requests", 0)
    out.append((placed > 0, f"{int(placed):,} limit orders placed"))
    for name, r in stats.items():
        if name == "Aggregated" or name.startswith("auth probe") or r["requests"] < min_samples:
            continue
        out.append((r["p95"] <= p95_ms and r["p99"] <= p99_ms,
                    f"{name}: p95 {r['p95']:.0f} ms <= {p95_ms:.0f}, "
                    f"p99 {r['p99']:.0f} ms <= {p99_ms:.0f}"))
    return out


def summary(stats: dict[str, dict[str, dict[str, float]]], *, store: str, workers: int,
            users: int, seconds: int, compare_seconds: int | None) -> dict[str, Any]:
    out: dict[str, Any] = {"store": store, "workers": workers, "users": users,
                           "seconds": seconds, "runs": stats}
    if compare_seconds is not None:
        orders = stats.get("orders", {}).get(ORDER_ROW)
        echo = stats.get("echo", {}).get(ECHO_ROW)
        bare_runs = [stats.get(run, {}).get(BARE_ROW) for run in ("bare", "bare-again")]
        bare_rps = [r["rps"] for r in bare_runs if r and r["rps"]]
        bare = sum(bare_rps) / len(bare_rps) if bare_rps else None  # mean of before and after
        out["compare"] = {"seconds": compare_seconds, "orders": orders, "echo": echo,
                          "ratio": (orders["rps"] / echo["rps"]) if orders and echo
                          and echo["rps"] else None,
                          "bare_rps": bare, "bare_runs": bare_runs,
                          "echo_vs_bare": echo["rps"] / bare if echo and bare else None,
                          "orders_vs_bare": orders["rps"] / bare if orders and bare else None}
    return out


def format_summary(s: dict[str, Any]) -> str:
    lines = [f"{s['store']}, {s['workers']} worker(s), {s['users']} users; "
             f"date {s['date']}, {s['cores']} cores, Python {s['python']}",
             f"command: {s['command']}", "",
             "| run | request | requests | failures | req/s | p50 ms | p95 ms | p99 ms |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for run, rows in s["runs"].items():
        for name, r in rows.items():
            lines.append(f"| {run} | {name} | {int(r['requests']):,} | {int(r['failures'])} | "
                         f"{r['rps']:,.0f} | {r['p50']:.0f} | {r['p95']:.0f} | {r['p99']:.0f} |")
    c = s.get("compare")
    if c and c.get("ratio") is not None:
        lines.append("")
        lines.append(f"order submission at saturation: {c['orders']['rps']:,.0f} orders/s = "
                     f"{c['ratio']:.0%} of /bench/echo's {c['echo']['rps']:,.0f} req/s "
                     f"({s['users']} users, {c['seconds']} s each, back to back)")
    if c and c.get("bare_rps"):
        lines.append(f"against the bare FastAPI reference's {c['bare_rps']:,.0f} req/s (mean "
                     f"of the runs before and after): /bench/echo "
                     f"{c['echo_vs_bare'] or 0:.0%}, order submission "
                     f"{c['orders_vs_bare'] or 0:.0%}")
    return "\n".join(lines)

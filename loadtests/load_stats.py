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


def compare_names(rounds: int) -> list[tuple[str, str, str]]:
    """The saturation runs of ``rounds`` rounds, in order, as (run name, Locust user class,
    ``bare`` or ``service``): each round is bare, /bench/echo and orders, and a last bare run
    closes them. One round keeps the names of old: bare, echo, orders, bare-again."""
    if rounds < 1:
        raise ValueError("at least one round of saturation runs")
    out = []
    for i in range(1, rounds + 1):
        tail = "" if i == 1 else f"-{i}"
        out += [(f"bare{tail}", "BareFlood", "bare"), (f"echo{tail}", "EchoFlood", "service"),
                (f"orders{tail}", "OrderFlood", "service")]
    return [*out, ("bare-again", "BareFlood", "bare")]


def _round(stats: dict[str, dict[str, dict[str, float]]], names: list[str],
           number: int) -> dict[str, Any]:
    """Round ``number`` (from 1) of the saturation runs ``names`` (`compare_names`): its
    echo and orders against the mean of the bare runs before and after it."""
    bare_before, echo, orders = names[3 * number - 3: 3 * number]
    bare_after = names[3 * number]
    bare_runs = [stats.get(run, {}).get(BARE_ROW) for run in (bare_before, bare_after)]
    bare_rps = [r["rps"] for r in bare_runs if r and r["rps"]]
    bare = sum(bare_rps) / len(bare_rps) if bare_rps else None  # mean of before and after
    o, e = stats.get(orders, {}).get(ORDER_ROW), stats.get(echo, {}).get(ECHO_ROW)
    return {"round": number, "orders": o, "echo": e,
            "ratio": o["rps"] / e["rps"] if o and e and e["rps"] else None,
            "bare_rps": bare, "bare_runs": bare_runs,
            "echo_vs_bare": e["rps"] / bare if e and bare else None,
            "orders_vs_bare": o["rps"] / bare if o and bare else None}


def summary(stats: dict[str, dict[str, dict[str, float]]], *, store: str, workers: int,
            users: int, seconds: int, compare_seconds: int | None,
            compare_rounds: int = 1) -> dict[str, Any]:
    """The runs' figures; with saturation runs, ``compare`` holds each round and, as its
    own figures, those of the median round: the round whose orders-to-bare share is the
    median (the lower middle of an even count)."""
    out: dict[str, Any] = {"store": store, "workers": workers, "users": users,
                           "seconds": seconds, "runs": stats}
    if compare_seconds is not None:
        names = [name for name, _, _ in compare_names(compare_rounds)]
        rounds = [_round(stats, names, i) for i in range(1, compare_rounds + 1)]
        ranked = sorted(rounds, key=lambda r: r["orders_vs_bare"] or 0.0)
        middle = ranked[(len(ranked) - 1) // 2]
        out["compare"] = {"seconds": compare_seconds, **middle, "rounds": rounds}
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
    if c and len(c.get("rounds", ())) > 1:
        lines.append(f"the median of {len(c['rounds'])} rounds (round {c['round']}); each "
                     "round, orders / bare and echo / bare: " + ", ".join(
                         f"{r['orders_vs_bare'] or 0:.0%} and {r['echo_vs_bare'] or 0:.0%}"
                         for r in c["rounds"]))
    return "\n".join(lines)

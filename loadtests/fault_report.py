"""The fault block of BENCHMARKS.md, rendered from one fault suite's result file alone.

``make faults`` runs `loadtests.faults` with ``--benchmarks BENCHMARKS.md``; this replaces the
text between the two fault markers with a section made from ``result.json`` (date, machine,
command; one row per fault kind: rounds, writes sent, acknowledged, refused, in doubt, lost,
duplicated, recovery time; the checks that failed, with their first example). Everything else in
the file stays byte for byte (`loadtests.bench_report.update`).

Run on its own: ``.venv/bin/python -m loadtests.fault_report [--result FILE] [--out FILE]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any

from loadtests.bench_report import update

ROOT = Path(__file__).resolve().parent.parent
BEGIN = "<!-- faults-report:begin -->"
END = "<!-- faults-report:end -->"
DEFAULT_RESULT = ROOT / "loadtests" / "results" / "faults" / "result.json"


def _seconds(values: list[float]) -> str:
    if not values:
        return "—"
    return f"{statistics.median(values):.1f} s / {max(values):.1f} s"


def _rounds(n: int) -> str:
    return f"{n} round" + ("" if n == 1 else "s")


def kind_row(kind: str, k: dict[str, Any], skipped_checks: list[str]) -> str:
    if k.get("skipped"):
        return f"| {kind} | 0 | skipped: {k['skipped']} | | | | | | | |"
    if k.get("unavailable"):
        return f"| {kind} | 0 | **could not run**: {k['unavailable']} | | | | | | | |"
    rounds = k["rounds"]
    s = {key: sum(r[key] or 0 for r in rounds) for key in ("sent", "acked", "refused",
                                                            "in_doubt", "lost", "duplicated")}
    recovery = [r["recovery_s"] for r in rounds if r["recovery_s"] is not None]
    failed = sorted({c for r in rounds for c in r["failed_checks"]})
    verdict = "all passed" if not failed else ", ".join(
        f"{c} ({_rounds(sum(c in r['failed_checks'] for r in rounds))})"
        + (" *skipped from the verdict*" if c in skipped_checks else "") for c in failed)
    planned = k["rounds_planned"]
    done = f"{len(rounds)}" + (f" of {planned}" if len(rounds) != planned else "")
    return (f"| {kind} | {done} | {s['sent']:,} | {s['acked']:,} | {s['refused']:,} | "
            f"{s['in_doubt']:,} | {s['lost']} | {s['duplicated']} | {_seconds(recovery)} | "
            f"{verdict} |")


def examples(result: dict[str, Any]) -> list[str]:
    """The first failure of each check of each kind, as the suite wrote it."""
    out = []
    for kind, k in result["kinds"].items():
        seen: set[str] = set()
        for r in k["rounds"]:
            for check in r["failed_checks"]:
                if check in seen:
                    continue
                seen.add(check)
                first = r["checks"][check][0] if r["checks"][check] else ""
                out.append(f"- {kind}, round {r['round']}, `{check}`: {first}")
    return out


def render(result: dict[str, Any]) -> str:
    t = result["totals"]
    skipped = result.get("skip_checks", [])
    lines = [
        "## Latest `make faults`",
        "",
        f"Rendered by `.venv/bin/python -m loadtests.fault_report` from the result file of one "
        f"fault suite run (`{result['command']}`), {result['date']}, code {result['code']}, "
        f"{result['cores']} cores, load average at start "
        f"{', '.join(str(x) for x in result['load_average'])}; {result['seconds']:.0f} s in "
        f"all, {result['traffic_seconds']:g} s of client traffic a round. A write is "
        "*acknowledged* (2xx), *refused* (a definitive 4xx, 503 `storage-unavailable`, or a "
        "connection never made) or *in doubt* (no answer after sending, other 5xx, "
        "`outcome-unknown`); *lost*: acknowledged and not stored; *duplicated*: stored more "
        "than once. Recovery: from the end of the fault to the first write acknowledged after "
        "it (median / worst).",
        "",
        "| fault | rounds | writes sent | acknowledged | refused | in doubt | lost | "
        "duplicated | recovery | checks failed |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|---|",
        *(kind_row(kind, k, skipped) for kind, k in result["kinds"].items()),
        "",
        f"In all: {t['rounds']} rounds, {t['sent']:,} writes sent, {t['acked']:,} "
        f"acknowledged, {t['lost']} lost, {t['duplicated']} duplicated; verdict: "
        + ("**passed**" if t.get("passed", not t["failed_checks"]) else
           f"**failed** ({', '.join(t['failed_checks'] + t.get('shortfalls', []))})") + ".",
        "",
    ]
    found = examples(result)
    if found:
        lines += ["First failure of each check:", "", *found, ""]
    lines += ["Checks after every round: " + "; ".join(
        f"`{name}` {text}" for name, text in result["checks"].items()) + ".", ""]
    return "\n".join(lines)


def update_benchmarks(out: Path, result: dict[str, Any]) -> None:
    update(out, render(result), begin_marker=BEGIN, end_marker=END)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--result", type=Path, default=DEFAULT_RESULT)
    p.add_argument("--out", type=Path, default=ROOT / "BENCHMARKS.md")
    args = p.parse_args(argv)
    update_benchmarks(args.out, json.loads(args.result.read_text()))
    print(f"{args.out}: fault block rendered from {args.result}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

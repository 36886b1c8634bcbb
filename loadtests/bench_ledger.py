"""In-process ledger benchmark: durable append, proofs, export, offline verification, reopen.

Run: ``.venv/bin/python -m loadtests.bench_ledger [--leaves N] [--json PATH]``.  Prints the
command, date, machine and figures; ``--json PATH`` also writes them for
`loadtests.bench_report` (the report block of BENCHMARKS.md).  Goals: append with a
checkpoint every 100k leaves >= 500,000 leaves/s; inclusion proof p99 < 1 ms on a million-leaf
log; offline verification >= 200,000 entries/s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ledger.export import export_ledger
from ledger.log import Ledger
from ledger.merkle import verify_inclusion
from ledger.note import Signer
from ledger.verify import verify_export
from loadtests import bench_report

ORIGIN = "bench.surplus-registry.example/ledger"


def _leaf(i: int, size: int) -> bytes:
    body = b'{"event":"UnitsTransferred","position":%d,"payload":"' % i
    return body + b"x" * max(0, size - len(body) - 2) + b'"}'


def _percentile(sorted_ns: list[int], q: float) -> float:
    return sorted_ns[min(len(sorted_ns) - 1, int(q * len(sorted_ns)))] / 1000.0


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def bench_append(ledger: Ledger, args: argparse.Namespace) -> dict[str, Any]:
    batches = [
        [_leaf(i, args.leaf_size) for i in range(lo, min(lo + args.batch, args.leaves))]
        for lo in range(0, args.leaves, args.batch)
    ]
    checkpoints = 0

    def run() -> None:
        nonlocal checkpoints
        next_cp = args.checkpoint_every
        for batch in batches:
            ledger.append_many(batch)
            if ledger.size >= next_cp:
                ledger.checkpoint()
                checkpoints += 1
                next_cp += args.checkpoint_every
        ledger.checkpoint()
        checkpoints += 1

    cpu = time.process_time()
    secs = _timed(run)
    cpu = time.process_time() - cpu
    print(
        f"append_many (batch {args.batch}, {args.leaf_size}-byte leaves, checkpoint every "
        f"{args.checkpoint_every:,}: fsync + sign + atomic write; {checkpoints} checkpoints): "
        f"{args.leaves:,} leaves in {secs:.2f} s = {args.leaves / secs:,.0f} leaves/s "
        f"(process CPU {cpu:.2f} s, all threads: wall above CPU means waiting for a core or "
        "the disk)"
    )
    return {"append_leaves_per_s": args.leaves / secs, "append_s": secs, "append_cpu_s": cpu,
            "checkpoints": checkpoints}


def bench_single_append(
    directory: Path, signer: Signer, args: argparse.Namespace
) -> dict[str, Any]:
    count = min(args.leaves, 100_000)
    leaves = [_leaf(i, args.leaf_size) for i in range(count)]
    with Ledger(directory, origin=ORIGIN, signer=signer) as ledger:
        secs = _timed(lambda: [ledger.append(leaf) for leaf in leaves])
        ledger.checkpoint()
    print(f"append (one write per leaf): {count:,} leaves = {count / secs:,.0f} leaves/s")
    return {"single_append_leaves_per_s": count / secs}


def bench_proofs(ledger: Ledger, args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(9162)
    size, root = ledger.size, ledger.root()
    out: dict[str, Any] = {}
    for label, past in (("current size", False), ("random past size", True)):
        samples: list[int] = []
        for _ in range(args.proofs):
            n = rng.randint(1, size) if past else size
            index = rng.randrange(n)
            start = time.perf_counter_ns()
            proof = ledger.inclusion_proof(index, n)
            samples.append(time.perf_counter_ns() - start)
            if not past:
                verify_inclusion(
                    index=index, size=n, leaf_hash=ledger.leaf_hash(index), proof=proof, root=root
                )
        samples.sort()
        print(
            f"inclusion proof, {label} ({args.proofs:,} random leaves of {size:,}): "
            f"p50 {_percentile(samples, 0.5):.1f} us, p99 {_percentile(samples, 0.99):.1f} us, "
            f"max {samples[-1] / 1000:.1f} us"
        )
        key = "proof_past" if past else "proof"
        out[f"{key}_p50_us"] = _percentile(samples, 0.5)
        out[f"{key}_p99_us"] = _percentile(samples, 0.99)
    return out


def bench_export_verify(
    ledger: Ledger, export_dir: Path, args: argparse.Namespace
) -> dict[str, Any]:
    size = ledger.size
    secs = _timed(lambda: export_ledger(ledger, export_dir))
    print(f"export: {size:,} entries in {secs:.2f} s = {size / secs:,.0f} entries/s")
    export_rate = size / secs
    mib = (export_dir / "entries.jsonl").stat().st_size / 2**20
    secs = _timed(lambda: verify_export(export_dir, vkey=ledger.vkey))
    print(
        f"verify_export ({mib:,.0f} MiB entries.jsonl, signature + contiguity + full root): "
        f"{size:,} entries in {secs:.2f} s = {size / secs:,.0f} entries/s"
    )
    return {"export_entries_per_s": export_rate, "verify_entries_per_s": size / secs,
            "verify_s": secs}


def main(argv: list[str] | None = None) -> None:
    """Run every benchmark and print the figures."""
    parser = argparse.ArgumentParser(prog="python -m loadtests.bench_ledger")
    parser.add_argument("--leaves", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--checkpoint-every", type=int, default=100_000)
    parser.add_argument("--leaf-size", type=int, default=200)
    parser.add_argument("--proofs", type=int, default=10_000)
    parser.add_argument("--json", type=Path, default=None, metavar="PATH",
                        help="also write the figures to PATH as JSON (read by "
                        "loadtests.bench_report)")
    args = parser.parse_args(argv)
    run = bench_report.run_info("loadtests.bench_ledger", sys.argv[1:] if argv is None else argv)
    print(
        "command:",
        " ".join(
            [os.path.basename(sys.executable), "-m", "loadtests.bench_ledger"]
            + (sys.argv[1:] if argv is None else argv)
        ),
    )
    print("date:", dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
    print(
        f"machine: {os.cpu_count()} cores ({len(os.sched_getaffinity(0))} usable), "
        f"{platform.machine()}, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}"
    )
    signer = Signer.generate(key_name=ORIGIN)
    work = Path(tempfile.mkdtemp(prefix="bench-ledger-"))
    figures: dict[str, Any] = {"leaves": args.leaves, "batch": args.batch,
                               "checkpoint_every": args.checkpoint_every}
    try:
        with Ledger(work / "data", origin=ORIGIN, signer=signer) as ledger:
            figures.update(bench_append(ledger, args))
            figures.update(bench_proofs(ledger, args))
            figures.update(bench_export_verify(ledger, work / "export", args))
        secs = _timed(lambda: Ledger(work / "data", origin=ORIGIN, signer=signer).close())
        print(
            f"reopen (scan {args.leaves:,} records, rebuild tree, check checkpoint): {secs:.2f} s"
        )
        figures["reopen_s"] = secs
        figures.update(bench_single_append(work / "single", signer, args))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        bench_report.write_result(args.json, run, figures)


if __name__ == "__main__":
    main()

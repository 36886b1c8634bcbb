"""Benchmark: reading one enterprise's holdings (what ``GET /holdings/{code}`` does).

Seeds the load-test world (``loadtests.load_world``: 20 traders with units on three markets),
then ``--transfers`` transfers between traders so the instruments carry events past their last
snapshot, as they do during trading, and times ``registry.directory.holdings`` — the handler's
whole registry work — with the event store's aggregate cache off (the default) and on
(``AGGREGATE_CACHE_MAXSIZE``, the library's cache with fast-forward: a cached aggregate is
brought up to date from the store on every read, so other writers' events are seen).

    .venv/bin/python -m loadtests.bench_holdings [--transfers 600] [--reads 50] [--repeats 3]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime

from loadtests.load_world import seed
from registry import directory
from registry.bootstrap import build_registry

AT = "2025-05-01T10:00:00+08:00"


def churn(env: dict[str, str], traders: list[str], instruments: list[str], n: int) -> None:
    app = build_registry(env)
    try:
        for i in range(n):
            app.holdings.transfer(instrument=instruments[i % len(instruments)],
                                  seller=traders[i % len(traders)],
                                  buyer=traders[(i + 1) % len(traders)], quantity=1000,
                                  ref=f"BENCH-{i}", at=AT,
                                  reason="correction", administrator="admin-t")
    finally:
        app.close()


def time_reads(env: dict[str, str], code: str, reads: int) -> tuple[float, float]:
    """Median and 95th percentile of one read, in ms, on a freshly opened registry."""
    app = build_registry(env)
    try:
        directory.holdings(app, code)  # warm: the first read fills the cache when there is one
        took = []
        for _ in range(reads):
            start = time.perf_counter()
            directory.holdings(app, code)
            took.append((time.perf_counter() - start) * 1000)
    finally:
        app.close()
    took.sort()
    return statistics.median(took), took[int(0.95 * (len(took) - 1))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transfers", type=int, default=600)
    parser.add_argument("--reads", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    print(f"command: {' '.join([sys.executable, '-m', 'loadtests.bench_holdings', *sys.argv[1:]])}")
    print(f"run {datetime.now(UTC).isoformat(timespec='minutes')} on "
          f"{platform.python_implementation()} {platform.python_version()}")
    with tempfile.TemporaryDirectory() as folder:
        env = {"REGISTRY_DATA_DIR": folder}
        manifest = seed(env)
        churn(env, manifest.traders, manifest.instruments, args.transfers)
        code = manifest.traders[0]
        for label, extra in (("cache off", {}), ("cache on", {"AGGREGATE_CACHE_MAXSIZE": "1000"})):
            figures = [time_reads({**env, **extra}, code, args.reads)
                       for _ in range(args.repeats)]
            spread = ", ".join(f"{m:.2f} / {p:.2f}" for m, p in figures)
            print(f"{label}: median / p95 ms per read, {args.repeats} runs: {spread}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

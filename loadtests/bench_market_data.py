"""Market-data read model benchmark: catching up from the log, and the reads the API serves.

A store is filled with the durable exchange benchmark's seeded order stream (group-committed
batches through `Registry.submit_orders`). Then: a fresh `MarketData` catches up on the whole
log (what the first market-data request after a restart pays), is checked against the stored
Market, and the per-request costs are timed: a refresh with nothing new (one log query), a
refresh after one more batch, book depth, one enterprise's orders and trades, OHLC history.
For comparison, rebuilding the Market from its events (what `Registry.book` does) is timed once.

Run: ``.venv/bin/python -m loadtests.bench_market_data [--orders 100000] [--batch 1000]``
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime

from loadtests.bench_exchange import AT, CODE, seed_world, stream
from registry.bootstrap import build_registry
from registry.market_data import MarketData


def per_call(fn: Callable[[], object], n: int) -> float:
    """Mean seconds per call over ``n`` calls."""
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--orders", type=int, default=100_000)
    p.add_argument("--batch", type=int, default=1000)
    p.add_argument("--traders", type=int, default=40)
    p.add_argument("--seed", type=int, default=20250602)
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-market-data-") as folder:
        return run(args, folder)


def run(args: argparse.Namespace, folder: str) -> int:
    app = build_registry({"REGISTRY_DATA_DIR": folder})
    accounts = seed_world(app, args.traders, 10**9)
    requests = stream(random.Random(args.seed), args.orders + args.batch, accounts)
    tail, requests = requests[args.orders:], requests[:args.orders]
    for n in range(0, len(requests), args.batch):
        app.exchange.submit_orders(instrument=CODE, requests=requests[n:n + args.batch], at=AT)

    data = MarketData(app)
    t0 = time.perf_counter()
    data.refresh()
    catch_up = time.perf_counter() - t0
    t0 = time.perf_counter()
    market = app.exchange.market(CODE)
    rebuild = time.perf_counter() - t0
    depth = market.book.depth(10)
    same = data.depth(CODE, 10)["bids"] == [{"price": a, "quantity": b, "orders": c}
                                            for a, b, c in depth.bids]
    same = same and len(data.trades) == market.trade_count

    idle = per_call(data.refresh, 1000)
    t0 = time.perf_counter()
    app.exchange.submit_orders(instrument=CODE, requests=tail, at=AT)
    write = time.perf_counter() - t0
    t0 = time.perf_counter()
    data.refresh()
    one_batch = time.perf_counter() - t0
    book = per_call(lambda: data.depth(CODE, 10), 1000)
    who = accounts[0]
    orders = per_call(lambda: data.orders_of_account(who, CODE), 100)
    trades = per_call(lambda: data.trades_of(who, CODE), 100)
    history = per_call(lambda: data.history(CODE, "day"), 20)
    events = app.queries.position()
    app.close()

    command = [".venv/bin/python", "-m", "loadtests.bench_market_data", *sys.argv[1:]]
    print(f"command: {' '.join(command)}")
    print(f"date: {datetime.now(UTC).isoformat(timespec='minutes')}  cores: {os.cpu_count()}  "
          f"python: {platform.python_version()}  store: SQLite ({folder})")
    print(f"log: {events:,} events; {args.orders:,} requests in batches of {args.batch}; "
          f"{len(data.trades):,} trades, {len(data.orders):,} orders; read model equals the "
          f"Market: {same}")
    print(f"catch-up from an empty read model: {catch_up:.2f} s "
          f"(rebuilding the Market from its events: {rebuild:.2f} s)")
    print(f"refresh, nothing new: {idle * 1e6:,.0f} us; after one batch of {len(tail)} "
          f"(written in {write * 1e3:.0f} ms): {one_batch * 1e3:.1f} ms")
    print(f"reads: depth(10) {book * 1e6:,.0f} us; one enterprise's orders {orders * 1e3:.1f} "
          f"ms, trades {trades * 1e3:.1f} ms; daily OHLC {history * 1e6:,.0f} us")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())

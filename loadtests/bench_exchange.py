"""Durable exchange benchmark: orders through the exchange service into SQLite (no HTTP).

A seeded stream of limit orders, market orders and cancels of resting orders from many
enterprises goes through `Registry.submit_orders` in group-committed batches; every batch is one
SQLite transaction (market batch event + instrument batch event + one cash posting per
enterprise touched). orders/s counts every request (cancels included) acknowledged after its
save. Afterwards the store is reopened and the book rebuilt from the events must equal the live
book, and units and cash must be conserved.

The whole request stream is generated before the clock starts and moved out of the garbage
collector's sight (`gc.freeze`): a client would not hold 200,000 requests in the server's heap,
and full collections walking them would be the harness's cost, not the exchange's.

``--store postgres`` measures the same path on a throw-away PostgreSQL server
(`tests.support.pgserver`, stopped at exit), as the PostgreSQL load run does; ``--json PATH``
also writes the figures for `loadtests.bench_report`.

Run: ``.venv/bin/python -m loadtests.bench_exchange [--orders 200000] [--batch 2000]
[--store sqlite|postgres] [--json PATH]``
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import random
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from domain.credit_code import make_credit_code
from domain.exchange.orders import Cancel, Order, Request
from domain.matching import OrderBook
from loadtests import bench_report
from registry.bootstrap import Registry, build_registry

AT = "2025-06-02T10:00:00+08:00"
CODE = "ENERGY-2025-GD"
REF_PRICE = 300_000  # fen per tonne of standard coal equivalent (3,000 CNY/tce)


def seed_world(app: Registry, traders: int, units_each: int) -> list[str]:
    from tests.support.world import (  # test helpers: a real retrofit lifecycle
        World,
        build_world,
        issue,
    )

    w: World = build_world(app)
    codes = []
    for n in range(traders):
        code = make_credit_code(f"91440600MA7B{n:05d}")
        app.register_enterprise(credit_code=code, name=f"Foshan Ceramics {n}",
                                sector="BUILDING_MATERIALS", prefecture="FOSHAN",
                                basin="GUANGFO", direct_discharger=True, at=AT)
        issue(app, w, reference=f"RF-B{n}", enterprise=code, kind="ENERGY",
              baseline=units_each, post=0)
        app.exchange.deposit(enterprise=code, amount=10**13, reference=f"D-{n}",
                             administrator="adm-1", at=AT)
        codes.append(code)
    app.exchange.open_market(instrument=CODE, administrator="adm-1", at=AT,
                             reference_price=REF_PRICE, tick=100, lot=1000, min_lot=1000,
                             sessions=[])  # at any hour
    return codes


def stream(rng: random.Random, n: int, accounts: list[str]) -> list[Request]:
    """60% limit, 10% market, 30% cancels of an order resting at that moment. A shadow
    `OrderBook` (the pure core, same accounts, so the same self-trade prevention) tells which
    orders rest; the exchange refuses nothing in this stream (cash and units are ample)."""
    shadow = OrderBook()
    out: list[Request] = []
    live: list[str] = []
    owner: dict[str, str] = {}
    for k in range(n):
        r = rng.random()
        while live and shadow.order(live[-1]) is None:  # lazily drop ended orders
            live.pop()
        if r < 0.30 and live:
            j = rng.randrange(len(live))
            oid = live[j]
            live[j] = live[-1]
            live.pop()
            if shadow.cancel(oid):
                out.append(Cancel(oid, owner[oid], f"u-{owner[oid][-6:]}"))
                continue
        acct = rng.choice(accounts)
        side = rng.choice("BS")
        qty = rng.randint(1, 20) * 1000
        oid = f"o{k}"
        if r < 0.40:
            shadow.submit(side, 0, qty, oid, "M", acct)
            out.append(Order(oid, acct, side, "M", 0, qty, f"u-{acct[-6:]}"))
        else:
            price = REF_PRICE + rng.randint(-30, 30) * 100 + (-1500 if side == "B" else 1500)
            shadow.submit(side, price, qty, oid, "L", acct)
            out.append(Order(oid, acct, side, "L", price, qty, f"u-{acct[-6:]}"))
            if shadow.order(oid) is not None:
                owner[oid] = acct
                live.append(oid)
    return out


def store_env(store: str, folder: str) -> tuple[dict[str, str], str]:
    """The registry's environment and how to name the store in the output. PostgreSQL: a
    throw-away server with a fresh database, as `loadtests.run_load` starts one."""
    env = {"REGISTRY_DATA_DIR": folder}
    if store == "sqlite":
        return env, f"SQLite ({folder})"
    from tests.support import pgserver

    server = pgserver.start()  # stopped at exit (atexit), also on failure
    env.update(pgserver.create_database(server, "bench_exchange"), REGISTRY_STORE="postgres")
    return env, f"PostgreSQL (throw-away server on {server.host}:{server.port}; data {folder})"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--orders", type=int, default=200_000)
    p.add_argument("--batch", type=int, default=2000)
    p.add_argument("--traders", type=int, default=40)
    p.add_argument("--seed", type=int, default=20250602)
    p.add_argument("--dir", default=None, help="data folder (default: a temporary one)")
    p.add_argument("--store", choices=("sqlite", "postgres"), default="sqlite")
    p.add_argument("--json", type=Path, default=None, metavar="PATH",
                   help="also write the figures to PATH as JSON (read by loadtests.bench_report)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    run = bench_report.run_info("loadtests.bench_exchange",
                                sys.argv[1:] if argv is None else argv)
    folder = args.dir or tempfile.mkdtemp(prefix="bench-exchange-")
    env, store = store_env(args.store, folder)
    app = build_registry(env)
    accounts = seed_world(app, args.traders, 10**9)
    requests = stream(random.Random(args.seed), args.orders, accounts)
    batches = [requests[i:i + args.batch] for i in range(0, len(requests), args.batch)]
    gc.collect()
    gc.freeze()  # the harness's own data: see the module docstring
    start_position = app.queries.position()
    accepted = rejected = trades = 0
    latencies = []
    t0, c0 = time.perf_counter(), time.process_time()
    for batch in batches:
        b0 = time.perf_counter()
        for o in app.exchange.submit_orders(instrument=CODE, requests=batch, at=AT):
            if o.status == "rejected":
                rejected += 1
            else:
                accepted += 1
                trades += len(o.fills)
        latencies.append(time.perf_counter() - b0)
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    events = app.queries.position() - start_position
    live = app.exchange.market(CODE).book
    cached = app.exchange_writes.writer().cache  # the writer's live copy
    live_book = next(a for a in cached.values() if getattr(a, "book", None) is not None).book
    app.close()
    t1 = time.perf_counter()
    reopened = build_registry(env)
    rebuilt = reopened.exchange.market(CODE).book
    rebuild_s = time.perf_counter() - t1
    i = reopened.instrument(CODE)
    cash = sum(reopened.exchange.cash_account(a).balance for a in accounts)
    reopened.close()
    latencies.sort()
    command = [".venv/bin/python", "-m", "loadtests.bench_exchange", *sys.argv[1:]]
    print(f"command: {' '.join(command)}")
    print(f"date: {datetime.now(UTC).isoformat(timespec='minutes')}  cores: {os.cpu_count()}  "
          f"python: {platform.python_version()}  store: {store}")
    print(f"requests: {len(requests):,} in {len(batches)} batches of {args.batch}; "
          f"accepted {accepted:,}, rejected {rejected:,}, trades {trades:,}, "
          f"events stored {events:,}")
    print(f"durable throughput: {len(requests) / elapsed:,.0f} orders/s "
          f"({elapsed:.2f} s); batch latency p50 {latencies[len(latencies) // 2] * 1e3:.1f} ms, "
          f"p99 {latencies[int(len(latencies) * 0.99)] * 1e3:.1f} ms")
    print(f"process CPU time: {cpu:.2f} s ({len(requests) / cpu:,.0f} orders per CPU-second; "
          "wall and CPU differ when other work shares the machine)")
    checks = {"book_equal": rebuilt == live == live_book,
              "units_conserved": sum(i.totals().values()) == i.issued(),
              "cash_conserved": cash == 10**13 * len(accounts)}
    print(f"rebuild after reopen: {rebuild_s:.2f} s; book equal: {checks['book_equal']}; "
          f"units conserved: {checks['units_conserved']}; "
          f"cash conserved: {checks['cash_conserved']}")
    if args.json:
        p50, p99 = latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.99)]
        bench_report.write_result(args.json, run, {
            "store": args.store, "requests": len(requests), "batch": args.batch,
            "accepted": accepted, "rejected": rejected, "trades": trades, "events": events,
            "orders_per_s": len(requests) / elapsed, "seconds": elapsed, "cpu_s": cpu,
            "orders_per_cpu_s": len(requests) / cpu, "batch_p50_ms": p50 * 1e3,
            "batch_p99_ms": p99 * 1e3, "rebuild_s": rebuild_s, **checks})
    return 0 if rebuilt == live_book else 1


if __name__ == "__main__":
    raise SystemExit(main())

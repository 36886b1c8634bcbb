"""Bulk order entry over HTTP: orders/s stored through ``POST /markets/{instrument}/bulk-orders``,
beside the in-process exchange (`loadtests.bench_exchange`) in the same run.

1. a fresh data folder with the load world (`loadtests.load_world`: 20 enterprises, three
   markets, units and cash enough that no order is refused for want of them) and tokens;
2. ``registry serve`` on a free loopback port (SQLite, one process; `loadtests.load_service`);
3. ``--clients`` threads, each one enterprise with its own ``httpx`` connection, send bulk
   entries of ``--items`` limit orders (a few ticks either side of the reference price, so
   books cross and trades settle) back to back until ``--orders`` orders are sent: a bounded
   client, at most ``--clients`` requests in flight;
4. the service stopped; the load run's store checks (`loadtests.load_checks`): every
   acknowledged order stored exactly once, units and cash conserved, books equal replays;
5. steps 1-4 ``--runs`` times (3 by default), each on a fresh data folder with the same
   orders: one run of this HTTP phase spreads by a fifth from run to run on this machine, so the
   run with the median rate is reported in full, beside every run's rate;
6. `loadtests.bench_exchange` in process (the same store kind) right after, for the ratio.

Figures: orders stored per second (acknowledged accepted or expired items over the wall time
of the HTTP phase), requests' p50/p99, and HTTP as a share of in-process; and the ledger: how
long after the last answer every stored event was under a signed checkpoint, and the merge
delay the service's signer measured (``GET /ledger/status``: signing time minus each event's
timestamp), since a signer that falls behind does its work after the timed phase.

Run: ``.venv/bin/python -m loadtests.bench_bulk [--clients 4] [--items 1000] [--orders 200000]
[--runs 3] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from loadtests import bench_report
from loadtests.load_checks import check_store
from loadtests.load_service import Service, free_port, step
from loadtests.load_world import issue_tokens, seed

ROOT = Path(__file__).resolve().parent.parent


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clients", type=int, default=4)
    p.add_argument("--items", type=int, default=1000, help="orders per bulk request")
    p.add_argument("--orders", type=int, default=200_000, help="orders sent in all")
    p.add_argument("--traders", type=int, default=20)
    p.add_argument("--exchange-orders", type=int, default=200_000,
                   help="orders of the in-process run beside it")
    p.add_argument("--runs", type=int, default=3,
                   help="HTTP runs, each on fresh data; the median's figures are reported")
    p.add_argument("--json", type=Path, default=None, metavar="PATH")
    return p.parse_args(argv)


def bodies(rng: random.Random, spec: dict[str, Any], tag: str, count: int,
           items: int) -> list[dict[str, Any]]:
    out = []
    for b in range(count):
        orders = []
        for i in range(items):
            side = rng.choice(("buy", "sell"))
            ticks = rng.randint(-8, 8) + (-3 if side == "buy" else 3)
            orders.append({"action": "order", "order_id": f"{tag}-{b}-{i}", "side": side,
                           "price": spec["reference_price"] + ticks * spec["tick"],
                           "quantity": rng.randint(1, 20) * 1000})
        out.append({"items": orders})
    return out


def client(url: str, token: str, instrument: str, work: list[dict[str, Any]],
           out: dict[str, Any]) -> None:
    import httpx

    latencies, acked, refused, failures = [], [], 0, 0
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"},
                      timeout=60) as http:
        for body in work:
            t = time.perf_counter()
            r = http.post(f"/markets/{instrument}/bulk-orders", json=body)
            latencies.append(time.perf_counter() - t)
            if r.status_code != 201:
                failures += 1
                continue
            for item in r.json()["items"]:
                if item["status"] == "refused":
                    refused += 1
                else:
                    acked.append(item["order_id"])
    out.update(latencies=latencies, acked=acked, refused=refused, failures=failures)


def stored_events(data: Path) -> int:
    """Events in the SQLite store (read-only, beside the service): one leaf each."""
    with sqlite3.connect(f"file:{data / 'registry.sqlite'}?mode=ro", uri=True) as db:
        (count,) = db.execute("SELECT count(*) FROM stored_events").fetchone()
    return int(count)


def signed(url: str, data: Path, *, bound: float = 60.0) -> dict[str, Any]:
    """Wait until the service's ledger signs every event stored now: the seconds that took,
    and the merge delay its signer measured (``GET /ledger/status``)."""
    import httpx

    events, t0 = stored_events(data), time.perf_counter()
    waited, counted = None, -1
    while time.perf_counter() - t0 < bound:
        status = httpx.get(f"{url}/ledger/status", timeout=10).json()
        if waited is None and status["signed_size"] >= events:
            waited = time.perf_counter() - t0
        elif waited is not None and status["merge_delay"]["count"] == counted:
            break  # the signer's round has ended: its merge delays are counted
        counted = status["merge_delay"]["count"]
        time.sleep(0.02 if waited is None else 0.3)
    return {"events": events, "signed_size": status["signed_size"],
            "signed_after_s": time.perf_counter() - t0 if waited is None else waited,
            "merge_delay": status["merge_delay"]}


def report(args: argparse.Namespace, run: dict[str, Any], figures: dict[str, Any],
           in_process: float, store: Any, ledger: dict[str, Any]) -> dict[str, Any]:
    """Print one run's figures (`run_summary`) and checks; the figures for the result file."""
    acked, elapsed, rate = figures["acked"], figures["seconds"], figures["orders_per_s"]
    print(f"command: {run['command']}")
    print(f"date: {run['date']}  load average at start: {run.get('load_average')}")
    print(f"bulk over HTTP: {acked:,} orders stored in {elapsed:.2f} s = {rate:,.0f} orders/s "
          f"({args.clients} clients, {args.items} orders a request, {figures['requests']} "
          f"requests, {figures['failures']} failed, {figures['refused']} items refused); "
          f"request p50 {figures['request_p50_ms']:.0f} ms, "
          f"p99 {figures['request_p99_ms']:.0f} ms")
    delay = ledger["merge_delay"]
    signed_rate = acked / (elapsed + ledger["signed_after_s"])
    print(f"ledger: {ledger['signed_size']:,} of {ledger['events']:,} stored events signed "
          f"{ledger['signed_after_s']:.2f} s after the last answer ({signed_rate:,.0f} orders/s "
          f"stored and signed); merge delay p50 "
          f"{delay['p50_ms']:.0f} ms, p99 {delay['p99_ms']:.0f} ms, max {delay['max_ms']:.0f} ms "
          f"over {delay['count']:,} events")
    for text in store.passed:
        print(f"  ok   {text}")
    for text in store.failed:
        print(f"  FAIL {text}")
    print(f"in process (loadtests.bench_exchange, same run): {in_process:,.0f} orders/s; "
          f"HTTP bulk = {rate / in_process:.0%} of it")
    return {
            "clients": args.clients, "items": args.items, "acked": acked,
            "refused": figures["refused"], "failures": figures["failures"], "seconds": elapsed,
            "orders_per_s": rate, "request_p50_ms": figures["request_p50_ms"],
            "request_p99_ms": figures["request_p99_ms"],
            "checks_passed": len(store.passed), "checks_failed": store.failed,
            "in_process_orders_per_s": in_process,
            "ratio": rate / in_process, "stored_and_signed_per_s": signed_rate,
            "ledger": ledger}


def one_run(args: argparse.Namespace, index: int) -> dict[str, Any]:
    """Steps 1-4 on a fresh data folder: the clients' results, the HTTP phase's wall time, the
    ledger's signing and the store checks."""
    folder = Path(tempfile.mkdtemp(prefix=f"bench-bulk-{index}-"))
    env = {"REGISTRY_DATA_DIR": str(folder / "data"),
           "REGISTRY_MAX_BODY_BYTES": str(4 * 1024 * 1024)}
    with step(f"run {index + 1} of {args.runs}: seed {args.traders} enterprises on 3 markets, "
              "issue tokens"):
        manifest = seed(env, args.traders)
        issue_tokens(folder / "data", manifest, env=env)
    tokens = json.loads((folder / "data" / "tokens.json").read_text())
    rng = random.Random(20250602)  # every run sends the same orders
    per_client = max(1, args.orders // args.items // args.clients)
    plans = []
    for c in range(args.clients):
        spec = tokens["markets"][c % len(tokens["markets"])]
        entry = tokens["enterprise"][c % len(tokens["enterprise"])]
        plans.append((entry["token"], spec["instrument"],
                      bodies(rng, spec, f"c{c}", per_client, args.items)))
    service = Service(env, port=free_port(), workers=1, log=folder / "service.log")
    with step(f"start the service on {service.url}"):
        service.start()
    results: list[dict[str, Any]] = [{} for _ in plans]
    try:
        threads = [threading.Thread(target=client, args=(service.url, token, instrument,
                                                         work, results[i]))
                   for i, (token, instrument, work) in enumerate(plans)]
        sent = per_client * args.items * args.clients
        with step(f"{args.clients} clients send {sent:,} orders in bulk entries of "
                  f"{args.items}"):
            t0 = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.perf_counter() - t0
        with step("wait for the ledger to sign every stored event"):
            ledger = signed(service.url, folder / "data")
    finally:
        service.stop()
    acks = folder / "acks.txt"
    acks.write_text("".join(f"order {instrument} {order_id}\n"
                            for (_, instrument, _), r in zip(plans, results, strict=True)
                            for order_id in r["acked"]))
    with step("check the store: acknowledged orders each stored once, conservation, books"):
        store = check_store(env, manifest, [acks])
    return {"results": results, "elapsed": elapsed, "ledger": ledger, "store": store}


def run_summary(run: dict[str, Any]) -> dict[str, Any]:
    """One run's figures: the result file lists every run's beside the median's."""
    results = run["results"]
    acked = sum(len(r["acked"]) for r in results)
    latencies = sorted(x for r in results for x in r["latencies"])
    return {"orders_per_s": acked / run["elapsed"], "acked": acked, "seconds": run["elapsed"],
            "requests": len(latencies), "refused": sum(r["refused"] for r in results),
            "request_p50_ms": latencies[len(latencies) // 2] * 1e3,
            "request_p99_ms": latencies[int(len(latencies) * 0.99)] * 1e3,
            "failures": sum(r["failures"] for r in results),
            "checks_failed": run["store"].failed,
            "signed": run["ledger"]["signed_size"] >= run["ledger"]["events"]}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.runs < 1:
        raise SystemExit("--runs must be at least 1")
    run = bench_report.run_info("loadtests.bench_bulk", sys.argv[1:] if argv is None else argv)
    runs, summaries = [], []
    for i in range(args.runs):
        runs.append(one_run(args, i))
        summaries.append(run_summary(runs[-1]))
        print(f"run {i + 1}: {summaries[-1]['acked']:,} orders stored in "
              f"{summaries[-1]['seconds']:.2f} s = {summaries[-1]['orders_per_s']:,.0f} orders/s",
              flush=True)
    # the run with the median rate is reported in full (the lower middle of an even count)
    middle = sorted(range(len(runs)), key=lambda i: summaries[i]["orders_per_s"])[
        (len(runs) - 1) // 2]
    with step("the in-process exchange beside it (loadtests.bench_exchange)"):
        out = Path(tempfile.mkdtemp(prefix="bench-bulk-exchange-")) / "exchange.json"
        subprocess.run([sys.executable, "-m", "loadtests.bench_exchange", "--orders",
                        str(args.exchange_orders), "--json", str(out)], cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)
        in_process = json.loads(out.read_text())["orders_per_s"]
    chosen = runs[middle]
    figures = report(args, run, summaries[middle], in_process, chosen["store"],
                     chosen["ledger"])
    rates = ", ".join(f"{s['orders_per_s']:,.0f}" for s in summaries)
    print(f"the {len(runs)} runs, each on fresh data: {rates} orders/s; the median's figures "
          "are the ones above")
    figures["runs"] = summaries
    if args.json:
        bench_report.write_result(args.json, run, figures)
    ok = all(s["failures"] == 0 and not s["checks_failed"] and s["acked"] > 0 and s["signed"]
             for s in summaries)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

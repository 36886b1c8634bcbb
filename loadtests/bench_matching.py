"""Matching-core benchmark: our `OrderBook` against PyPI peers on one seeded stream.

Run: ``.venv/bin/python -m loadtests.bench_matching [--ops N] [--seed S] [--repeats R]``

One seeded stream (``random.Random(seed)``) of limit (60%), market (10%) and cancel (30%, always
of a resting order) operations is replayed through every engine, after the same seed orders.
Each engine's fills are checked against ours (the comparison stream gives every order its own
account, so self-trade prevention never fires and all engines mean the same thing). Our book runs
with the price band (±10% around the reference price) and self-trade prevention active in every
run; a second stream with 20 accounts, where STP does fire, is measured on ours alone. Then the
same runs start from a book 8x deeper (8x the seed levels, same orders per level).

Throughput is the best of ``--repeats`` untimed-per-op passes; p50/p99 latency comes from one
extra pass timing every operation with ``perf_counter_ns``. The figures go to BENCHMARKS.md:
``--json PATH`` also writes them for `loadtests.bench_report`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import os
import platform
import random
import sys
import time
from collections.abc import Callable, Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

from domain.matching import OrderBook
from loadtests import bench_report

MID = 8000  # fen per tonne: 80.00 CNY/t; the band is [7200, 8800]
BACKGROUND_IDS = 10**9  # ids (and accounts) of the orders that make the book deeper
Op = tuple[bool, str, int, int, int, str, int]  # is_cancel, side, price, qty, id, kind, account


# -- the stream --------------------------------------------------------------------------------


def seed_orders(levels: int, per_level: int, rng: random.Random, first_id: int) -> list[Op]:
    """Non-crossing resting orders: ``levels`` prices per side next to the mid, ``per_level``
    orders each. The stream trades against them and cancels them."""
    ops: list[Op] = []
    oid = first_id
    for depth in range(1, levels + 1):
        for _ in range(per_level):
            for side, price in (("B", MID - depth), ("S", MID + depth)):
                oid += 1
                ops.append((False, side, price, rng.randint(1, 100), oid, "L", oid))
    return ops


def background_orders(count: int, per_level: int, rng: random.Random) -> list[Op]:
    """``count`` resting orders that deepen the book: from 60 ticks off the mid outwards (inside
    the band), ``per_level`` per price. The stream never cancels them and rarely reaches them."""
    ops: list[Op] = []
    oid = BACKGROUND_IDS
    for n in range(count // 2):
        depth = 60 + n // per_level
        for side, price in (("B", MID - depth), ("S", MID + depth)):
            oid += 1
            ops.append((False, side, price, rng.randint(1, 100), oid, "L", oid))
    return ops


def make_stream(n: int, seed: int, seed_ops: list[Op], accounts: int | None) -> list[Op]:
    """``n`` operations; cancels pick a random order resting at that moment (tracked by running
    the stream through a scratch `OrderBook` while generating). ``accounts=None``: one per order."""
    rng = random.Random(seed)
    book = OrderBook(reference_price=MID)
    live: list[int] = []
    for op in seed_ops:
        book.submit(*op[1:])
        live.append(op[4])
    oid = max((op[4] for op in seed_ops if op[4] < BACKGROUND_IDS), default=0)
    ops: list[Op] = []
    while len(ops) < n:
        r = rng.random()
        if r < 0.30 and len(book):
            while True:  # live may hold filled or STP-cancelled ids: drop them lazily
                j = rng.randrange(len(live))
                target = live[j]
                live[j] = live[-1]
                live.pop()
                if book.cancel(target):
                    break
            ops.append((True, "", 0, 0, target, "", 0))
            continue
        oid += 1
        side = "B" if rng.random() < 0.5 else "S"
        account = oid if accounts is None else rng.randrange(accounts)
        qty = rng.randint(1, 100)
        if r < 0.40:
            ops.append((False, side, 0, rng.randint(1, 200), oid, "M", account))
        else:
            offset = rng.randint(-25, 4)  # tuned so the book neither empties nor balloons
            price = MID + offset if side == "B" else MID - offset
            ops.append((False, side, price, qty, oid, "L", account))
        book.submit(*ops[-1][1:])
        if book.order(oid) is not None:
            live.append(oid)
    return ops


# -- engines: each adapter has submit(side, price, qty, id, kind, account) and cancel(id) ------


class Ours:
    name = "ours (STP + band on)"

    def __init__(self) -> None:
        self.book = OrderBook(reference_price=MID)
        self.submit = self.book.submit
        self.cancel = self.book.cancel

    def fills(self, raw: Any, oid: int) -> list[tuple[int, int, int, int]]:
        return list(raw)


class LightMatching:
    name = "lightmatchingengine"

    def __init__(self) -> None:
        from lightmatchingengine.lightmatchingengine import LightMatchingEngine, Side

        self.engine = LightMatchingEngine()
        self.buy, self.sell = Side.BUY, Side.SELL
        self.ids: dict[int, int] = {}  # ours -> theirs
        self.ours: dict[int, int] = {}  # theirs -> ours (for the fill check only)

    def submit(self, side: str, price: int, qty: int, oid: int, kind: str, account: int) -> Any:
        engine = self.engine
        order, trades = engine.add_order(
            "X", 0 if kind == "M" else price, qty, self.buy if side == "B" else self.sell
        )
        self.ids[oid] = order.order_id
        self.ours[order.order_id] = oid
        if kind == "M" and order.leaves_qty:  # it would rest at price 0: drop it (IOC)
            engine.cancel_order(order.order_id, "X")
        return trades

    def cancel(self, oid: int) -> bool:
        return self.engine.cancel_order(self.ids.pop(oid), "X") is not None

    def fills(self, raw: Any, oid: int) -> list[tuple[int, int, int, int]]:
        mine = self.ids[oid]
        return [
            (oid, self.ours[t.order_id], t.trade_price, t.trade_qty)
            for t in raw
            if t.order_id != mine
        ]


class PyOrderBook:
    name = "pyorderbook"

    def __init__(self) -> None:
        import logging

        import pyorderbook

        logging.getLogger("pyorderbook").setLevel(logging.WARNING)
        self.pob = pyorderbook
        self.book = pyorderbook.Book()
        self.orders: dict[int, Any] = {}
        self.ours: dict[Any, int] = {}

    def submit(self, side: str, price: int, qty: int, oid: int, kind: str, account: int) -> Any:
        if kind == "M":  # no market orders: cross at any price, then cancel the rest
            price = 10**9 if side == "B" else 0
        order = (self.pob.bid if side == "B" else self.pob.ask)("X", price, qty)
        self.orders[oid] = order
        self.ours[order.id] = oid
        blotter = self.book.match(order)
        if kind == "M" and order.quantity:
            self.book.cancel(order)
        return blotter.trades

    def cancel(self, oid: int) -> bool:
        order = self.orders.pop(oid)
        if order.quantity and order.id in self.book.order_map:
            self.book.cancel(order)
            return True
        return False

    def fills(self, raw: Any, oid: int) -> list[tuple[int, int, int, int]]:
        return [
            (oid, self.ours[t.standing_order_id], int(t.fill_price), t.fill_quantity) for t in raw
        ]


class Liquibook:
    name = "liquibook (C++/SWIG)"

    def __init__(self) -> None:
        import liquibook

        self.lb = liquibook
        self.order_cls = liquibook.SimpleOrder
        self.ioc = liquibook.oc_immediate_or_cancel
        self.book = liquibook.DepthOrderBook()
        self.listener = _liquibook_listener(liquibook)
        self.book.set_order_listener(self.listener)
        self.orders: dict[int, Any] = {}
        self.ours: dict[int, int] = {}

    def submit(self, side: str, price: int, qty: int, oid: int, kind: str, account: int) -> Any:
        if kind == "M":
            order = self.order_cls(side == "B", 0, qty, 0, self.ioc)
        else:
            order = self.order_cls(side == "B", price, qty)
        self.orders[oid] = order
        self.ours[order.order_id_] = oid
        fills = self.listener.fills = []
        self.book.add(order)
        return fills

    def cancel(self, oid: int) -> bool:
        self.listener.cancelled = False
        self.book.cancel(self.orders.pop(oid))
        return bool(self.listener.cancelled)

    def fills(self, raw: Any, oid: int) -> list[tuple[int, int, int, int]]:
        return [(oid, self.ours[maker], price, qty) for _taker, maker, qty, price in raw]


def _liquibook_listener(liquibook: Any) -> Any:
    class Listener(liquibook.OrderListener):  # type: ignore[misc]
        fills: list[tuple[int, int, int, int]]
        cancelled = False

        def on_fill(self, order: Any, matched: Any, qty: int, cost: int) -> None:
            # SWIG passes the fill price as "cost"; the fill check below confirms it
            self.fills.append((order.order_id_, matched.order_id_, qty, cost))

        def on_cancel(self, order: Any) -> None:
            self.cancelled = True

        def on_accept(self, order: Any) -> None:  # pure virtual: must exist
            pass

        def on_reject(self, order: Any, reason: str) -> None:
            raise RuntimeError(f"liquibook rejected an order: {reason}")

        def on_cancel_reject(self, order: Any, reason: str) -> None:
            pass

    listener = Listener()
    listener.fills = []
    return listener


PEERS: list[tuple[str, str, Callable[[], Any]]] = [
    ("lightmatchingengine", "lightmatchingengine", LightMatching),
    ("pyorderbook", "pyorderbook", PyOrderBook),
    ("liquibook", "liquibook", Liquibook),
]


# -- runs -----------------------------------------------------------------------------------------


def _loaded(factory: Callable[[], Any], seed_ops: Iterable[Op]) -> Any:
    engine = factory()
    for op in seed_ops:
        engine.submit(*op[1:])
    return engine


def throughput(factory: Callable[[], Any], seed_ops: list[Op], ops: list[Op]) -> float:
    """Operations per second over the whole stream (the seed orders are not timed)."""
    engine = _loaded(factory, seed_ops)
    submit, cancel = engine.submit, engine.cancel
    gc.collect()
    start = time.perf_counter()
    for is_cancel, side, price, qty, oid, kind, account in ops:
        if is_cancel:
            cancel(oid)
        else:
            submit(side, price, qty, oid, kind, account)
    return len(ops) / (time.perf_counter() - start)


def latencies(factory: Callable[[], Any], seed_ops: list[Op], ops: list[Op]) -> tuple[float, float]:
    """p50 and p99 of per-operation latency in microseconds (timer overhead included)."""
    engine = _loaded(factory, seed_ops)
    submit, cancel, clock = engine.submit, engine.cancel, time.perf_counter_ns
    samples = [0] * len(ops)
    gc.collect()
    for n, (is_cancel, side, price, qty, oid, kind, account) in enumerate(ops):
        start = clock()
        if is_cancel:
            cancel(oid)
        else:
            submit(side, price, qty, oid, kind, account)
        samples[n] = clock() - start
    samples.sort()
    return samples[len(samples) // 2] / 1000, samples[len(samples) * 99 // 100] / 1000


def outcome(factory: Callable[[], Any], seed_ops: list[Op], ops: list[Op]) -> list[Any]:
    """Every fill and every cancel result, normalised to our vocabulary, for the fill check."""
    engine = _loaded(factory, seed_ops)
    out: list[Any] = []
    for is_cancel, side, price, qty, oid, kind, account in ops:
        if is_cancel:
            out.append(("cancel", oid, engine.cancel(oid)))
        else:
            out.extend(engine.fills(engine.submit(side, price, qty, oid, kind, account), oid))
    return out


def profile(seed_ops: list[Op], ops: list[Op]) -> tuple[int, int, int]:
    """On our book: average resting orders and price levels (both sides) over the stream, and
    how many resting orders self-trade prevention cancelled."""
    book = _loaded(lambda: OrderBook(reference_price=MID), seed_ops)
    orders = levels = samples = stp = 0
    for n, (is_cancel, side, price, qty, oid, kind, account) in enumerate(ops):
        if is_cancel:
            book.cancel(oid)
        else:
            book.submit(side, price, qty, oid, kind, account)
            stp += len(book.last_stp_cancels)
        if n % 1000 == 0:
            depth = book.depth(10**6)
            orders += len(book)
            levels += len(depth.bids) + len(depth.asks)
            samples += 1
    return orders // samples, levels // samples, stp


def measure(
    label: str,
    engines: list[tuple[str, Callable[[], Any]]],
    seed_ops: list[Op],
    ops: list[Op],
    repeats: int,
) -> tuple[dict[str, float], bool]:
    """ops/s of each engine, and whether every engine's fills and cancels equal ours."""
    resting, levels, stp = profile(seed_ops, ops)
    print(f"\n## {label}")
    print(
        f"{len(ops):,} ops after {len(seed_ops):,} seed orders; the book averages {resting:,} "
        f"resting orders on {levels:,} price levels; STP cancelled {stp:,} resting orders"
    )
    print(f"{'engine':<30}{'ops/s':>12}{'p50 us':>9}{'p99 us':>9}  fills")
    expected = outcome(engines[0][1], seed_ops, ops)
    fills = sum(1 for item in expected if item[0] != "cancel")
    rates: dict[str, float] = {}
    identical = True
    for name, factory in engines:
        same = outcome(factory, seed_ops, ops) == expected
        identical = identical and same
        rate = max(throughput(factory, seed_ops, ops) for _ in range(repeats))
        p50, p99 = latencies(factory, seed_ops, ops)
        rates[name] = rate
        verdict = f"{fills:,}" if factory is Ours else "identical" if same else "DIFFER"
        print(f"{name:<30}{rate:>12,.0f}{p50:>9.2f}{p99:>9.2f}  {verdict}")
    return rates, identical


def available_peers() -> list[tuple[str, Callable[[], Any]]]:
    peers = []
    for dist, module, factory in PEERS:
        try:
            __import__(module)
            version = metadata.version(dist)
            factory()
        except Exception as exc:  # any failure: skip, and say why
            print(f"SKIPPED {dist}: {type(exc).__name__}: {exc}")
            continue
        peers.append((f"{factory.name} {version}", factory))  # type: ignore[attr-defined]
    return peers


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--ops", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=20250101)
    parser.add_argument("--repeats", type=int, default=3, help="throughput: best of N passes")
    parser.add_argument("--levels", type=int, default=40, help="seed price levels per side")
    parser.add_argument("--per-level", type=int, default=8, help="seed orders per level")
    parser.add_argument("--json", type=Path, default=None, metavar="PATH",
                        help="also write the figures to PATH as JSON (read by "
                        "loadtests.bench_report)")
    args = parser.parse_args(argv)
    run = bench_report.run_info("loadtests.bench_matching",
                                sys.argv[1:] if argv is None else argv)
    print("command: .venv/bin/python -m loadtests.bench_matching " + " ".join(sys.argv[1:]))
    print(f"date: {dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}")
    print(
        f"cores: {os.cpu_count()} (usable {len(os.sched_getaffinity(0))}); "
        f"{platform.python_implementation()} {platform.python_version()} on {platform.machine()}"
    )
    ours = ("ours (STP + band on)", Ours)
    engines = [ours, *available_peers()]
    rng = random.Random(args.seed)
    seed_ops = seed_orders(args.levels, args.per_level, rng, 0)
    ops = make_stream(args.ops, args.seed, seed_ops, accounts=None)
    stp_ops = make_stream(args.ops, args.seed, seed_ops, accounts=20)
    base_resting = profile(seed_ops, ops)[0]
    deep_ops = seed_ops + background_orders(7 * base_resting, 16, rng)
    results = {}
    identical = True
    for factor, seeds in ((1, seed_ops), (8, deep_ops)):
        book = "base book" if factor == 1 else "book 8x deeper"
        rates, same = measure(f"{book}, one account per order", engines, seeds, ops,
                              args.repeats)
        stp, _ = measure(f"{book}, 20 accounts (STP fires)", [ours], seeds, stp_ops, args.repeats)
        results[factor] = (rates, stp)
        identical = identical and same
    figures = summarise(results, ours[0])
    if args.json:
        bench_report.write_result(args.json, run, {"ops": args.ops, **figures,
                                                    "fills_identical": identical})
    return 0


def book_figures(rates: dict[str, float], stp: dict[str, float], ours: str) -> dict[str, Any]:
    """One book's figures: ours, each peer, and ours against the fastest peer (None if none)."""
    peers = {name: rate for name, rate in rates.items() if name != ours}
    best = max(peers, key=peers.__getitem__) if peers else None
    return {"ours_ops_per_s": rates[ours], "ours_stp_ops_per_s": stp[ours],
            "peers_ops_per_s": peers, "fastest_peer": best,
            "vs_fastest_peer": rates[ours] / peers[best] if best else None}


def summarise(
    results: dict[int, tuple[dict[str, float], dict[str, float]]], ours: str
) -> dict[str, Any]:
    """Print the summary; return it as the figures of the JSON result."""
    print("\n## summary")
    books = {factor: book_figures(rates, stp, ours) for factor, (rates, stp) in results.items()}
    for factor, book in books.items():
        if book["fastest_peer"]:
            print(
                f"{factor}x book: ours / fastest peer ({book['fastest_peer']}) = "
                f"{book['vs_fastest_peer']:.2f}x"
            )
    base, deep = books[1], books[8]
    keeps = deep["ours_ops_per_s"] / base["ours_ops_per_s"]
    keeps_stp = deep["ours_stp_ops_per_s"] / base["ours_stp_ops_per_s"]
    print(f"ours 8x-deeper / base, one account per order: {keeps:.2f}")
    print(f"ours 8x-deeper / base, 20 accounts (STP):    {keeps_stp:.2f}")
    return {"base": base, "deep": deep, "deep_keeps": keeps, "deep_keeps_stp": keeps_stp}


if __name__ == "__main__":
    sys.exit(main())

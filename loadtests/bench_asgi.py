"""Process CPU per request, in process: the project's app against the bare FastAPI reference.

Locust figures on a shared two-core machine move with whatever else runs; the CPU a request
costs the serving process does not, so this is the measure to develop against. Each scenario
drives an app through raw ASGI calls (no sockets, no HTTP parsing: what uvicorn adds is the
same for both apps) from ``--tasks`` concurrent tasks on one event loop, as uvicorn does, and
reports process CPU time (every thread: the thread pool, the gateway, the ledger signer) per
request, and the wall rate.

    python -m loadtests.bench_asgi [--requests N] [--tasks T] [--rounds R] [--only echo,orders]

Scenarios: ``bare`` (`loadtests.bare_app`), ``bare-async`` (the same with an ``async def``
handler: what the thread pool's hop costs; not the reference), ``echo`` (the project's
``/bench/echo``: token, role check, body, middlewares), ``orders`` (limit orders on the load
world's markets, a few ticks either side of the reference price, as the Locust order flood
sends them) and ``bulk`` (bulk entries of ``--items`` limit orders; CPU per order).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import random
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from loadtests import bare_app
from loadtests.load_world import issue_tokens, seed

Request = tuple[str, str, bytes, list[tuple[bytes, bytes]]]  # method, path, body, headers


async def call(app: Any, method: str, path: str, body: bytes,
               headers: list[tuple[bytes, bytes]]) -> tuple[int, bytes]:
    """One request through the app's ASGI interface, as a server would make it."""
    scope = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"},
             "http_version": "1.1", "method": method, "scheme": "http", "path": path,
             "raw_path": path.encode(), "root_path": "", "query_string": b"",
             "headers": [(b"host", b"bench"), (b"content-type", b"application/json"),
                         (b"content-length", str(len(body)).encode()), *headers],
             "client": ("127.0.0.1", 40000), "server": ("127.0.0.1", 8000), "state": {}}
    sent = False
    status = 0
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)  # a client that stays connected
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(chunks)


async def drive(app: Any, make: Callable[[int], Request], *, requests: int, tasks: int,
                settle: Callable[[], object], expect: int = 201) -> tuple[float, float]:
    """(CPU seconds, wall seconds) for ``requests`` requests from ``tasks`` concurrent tasks,
    and then ``settle()`` (the ledger catching up with what they stored, which the signer
    would otherwise do in the next scenario's time)."""
    counter = itertools.count()

    async def worker() -> None:
        while (n := next(counter)) < requests:
            method, path, body, headers = make(n)
            status, text = await call(app, method, path, body, headers)
            if status != expect:
                raise RuntimeError(f"{method} {path}: HTTP {status}: {text[:300]!r}")

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(tasks)))
    settle()
    return time.process_time() - cpu, time.perf_counter() - wall


async def lifespan(app: FastAPI, body: Callable[[], Awaitable[None]]) -> None:
    async with app.router.lifespan_context(app):
        await body()


ECHO = json.dumps({"side": "buy", "price": 300000, "quantity": 40000}).encode()


def order_body(rng: random.Random, market: dict[str, Any], order_id: str) -> dict[str, Any]:
    side = rng.choice(("buy", "sell"))
    ticks = rng.randint(-8, 8) + (-3 if side == "buy" else 3)
    return {"order_id": order_id, "side": side, "kind": "limit",
            "price": market["reference_price"] + ticks * market["tick"],
            "quantity": rng.randint(1, 20) * 1000}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--requests", type=int, default=3000)
    p.add_argument("--tasks", type=int, default=16)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--items", type=int, default=1000, help="orders per bulk entry")
    p.add_argument("--bulk-requests", type=int, default=20)
    p.add_argument("--traders", type=int, default=4)
    p.add_argument("--only", default="bare,echo,orders,bulk")
    a = p.parse_args(argv)
    only = a.only.split(",")
    from api.app import create_app  # after argument errors: importing the app costs a second

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        # the default limit (1000 a second per user) would refuse two traders' requests once
        # the app serves more than 2000 a second; a limit no run reaches still counts each one
        env = {"REGISTRY_DATA_DIR": tmp, "REGISTRY_BENCH_ENDPOINTS": "1",
               "REGISTRY_RATE_LIMIT": "1000000/second"}
        manifest = seed(env, a.traders)
        tokens = issue_tokens(data, manifest, env=env)["enterprise"]
        auths = [[(b"authorization", f"Bearer {t['token']}".encode())] for t in tokens]
        markets = manifest.markets
        rng = random.Random(7)
        project = create_app(env)
        figures: dict[str, list[tuple[float, float, int]]] = {name: [] for name in only}

        def echo(n: int) -> Request:
            return "POST", "/bench/echo", ECHO, auths[n % len(auths)]

        def order(n: int, r: int) -> Request:
            market = markets[n % len(markets)]
            body = order_body(rng, market, f"b{r}-{n}")
            return ("POST", f"/markets/{market['instrument']}/orders", json.dumps(body).encode(),
                    auths[n % len(auths)])

        def bulk(n: int, r: int) -> Request:
            market = markets[0]  # one account, one market per entry
            items = [{"action": "order", **order_body(rng, market, f"k{r}-{n}-{i}")}
                     for i in range(a.items)]
            body = json.dumps({"items": items}).encode()
            return ("POST", f"/markets/{market['instrument']}/bulk-orders", body,
                    auths[n % len(auths)])

        def settle() -> None:  # the ledger's leaves of what a scenario stored, in its time
            project.state.registry_state.caught_up()

        # name -> (app, request maker for round r, requests, tasks, orders a request)
        plan: dict[str, tuple[Any, Callable[[int], Callable[[int], Request]], int, int, int]] = {
            "bare": (bare_app.app, lambda r: echo, a.requests, a.tasks, 1),
            "bare-async": (bare_app.async_app, lambda r: echo, a.requests, a.tasks, 1),
            "echo": (project, lambda r: echo, a.requests, a.tasks, 1),
            "orders": (project, lambda r: lambda n: order(n, r), a.requests, a.tasks, 1),
            "bulk": (project, lambda r: lambda n: bulk(n, r), a.bulk_requests,
                     min(a.tasks, 4), a.items),
        }

        async def rounds() -> None:
            for name in only:  # a first, untimed pass of each: pools, caches, lazy set-up
                app, make, requests, tasks, _ = plan[name]
                await drive(app, make(-1), requests=min(requests, 300), tasks=tasks,
                            settle=settle)
            for r in range(a.rounds):
                for name in only:
                    app, make, requests, tasks, orders = plan[name]
                    cpu, wall = await drive(app, make(r), requests=requests, tasks=tasks,
                                            settle=settle)
                    figures[name].append((cpu, wall, requests * orders))

        asyncio.run(lifespan(project, rounds))
    report(a, figures)


def report(a: argparse.Namespace, figures: dict[str, list[tuple[float, float, int]]]) -> None:
    print(f"in process, {a.tasks} concurrent tasks, {a.requests} requests a round "
          f"(bulk: {a.bulk_requests} entries of {a.items}), {a.rounds} rounds; "
          "CPU µs per request (per order for bulk): median (min-max), wall rate, and the bare "
          "app's CPU per request as a share of it (median of the rounds: each round runs every "
          "scenario once, so the share compares figures taken side by side)")
    bare = [cpu / n for cpu, _, n in figures.get("bare", [])]
    for name, rows in figures.items():
        per = [cpu / n * 1e6 for cpu, _, n in rows]
        rate = [n / wall for _, wall, n in rows]
        shares = [b * 1e6 / p for b, p in zip(bare, per, strict=True)] if bare else []
        share = f"  {statistics.median(shares):6.0%} of bare" if bare and name != "bare" else ""
        print(f"  {name:<10} {statistics.median(per):8.0f} µs  ({min(per):.0f}-{max(per):.0f})"
              f"  {statistics.median(rate):8.0f}/s wall{share}")



if __name__ == "__main__":
    main()

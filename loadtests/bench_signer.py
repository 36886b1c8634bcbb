"""The ledger signer's CPU per order of bulk entry: what signing costs the serving process.

The continuous signer runs in a thread of the process that serves requests, so every CPU
microsecond it spends on a leaf is one the request path cannot (the interpreter runs one
thread at a time). This stores ``--requests`` bulk entries of ``--items`` orders through the
app (raw ASGI calls, as `loadtests.bench_asgi` makes them), then times, ``--rounds`` times, a
fresh ledger following that store from its start with the service's seal key: append every
leaf, read each back and check it against its stored event, sign checkpoints
(`registry.ledger_follower.LedgerFollower.catch_up`). The fresh ledger's leaves must equal the
service's own, byte for byte.

Run: ``.venv/bin/python -m loadtests.bench_signer [--requests 20] [--items 1000]
[--rounds 3]``; ``REGISTRY_SPEEDUPS=none`` measures the plain check (`registry.speedups`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from loadtests import bench_report
from loadtests.bench_asgi import call, lifespan, order_body
from loadtests.load_world import issue_tokens, seed


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--requests", type=int, default=20, help="bulk entries stored")
    p.add_argument("--items", type=int, default=1000, help="orders per bulk entry")
    p.add_argument("--rounds", type=int, default=3)
    a = p.parse_args(argv)
    run = bench_report.run_info("loadtests.bench_signer", sys.argv[1:] if argv is None else argv)
    from api.app import create_app  # after argument errors: importing the app costs a second
    from ledger.keys import load_or_create_key
    from ledger.log import Ledger
    from registry.ledger_follower import LedgerFollower, LedgerSettings

    with tempfile.TemporaryDirectory() as tmp:
        env = {"REGISTRY_DATA_DIR": tmp}
        manifest = seed(env, 6)
        tokens = issue_tokens(Path(tmp), manifest, env=env)["enterprise"]
        auths = [[(b"authorization", f"Bearer {t['token']}".encode())] for t in tokens]
        market = manifest.markets[0]
        rng = random.Random(7)
        project = create_app(env)
        seconds: list[float] = []
        leaves = 0

        async def body() -> None:
            nonlocal leaves
            for n in range(a.requests):
                items = [{"action": "order", **order_body(rng, market, f"k-{n}-{i}")}
                         for i in range(a.items)]
                status, text = await call(project, "POST",
                                          f"/markets/{market['instrument']}/bulk-orders",
                                          json.dumps({"items": items}).encode(),
                                          auths[n % len(auths)])
                if status != 201:
                    raise RuntimeError(f"bulk entry: HTTP {status}: {text[:300]!r}")
            state = project.state.registry_state
            served = state.caught_up()
            follower: Any = state.follower
            settings = LedgerSettings.from_env(env)
            signer = load_or_create_key(settings.key_file, key_name=settings.key_name)
            for r in range(a.rounds):
                fresh = Ledger(Path(tmp) / f"fresh-{r}", origin=served.origin, signer=signer)
                mine = LedgerFollower(follower.app, fresh, seal=follower.encoder.seal,
                                      speedups=follower.speedups)
                cpu = time.process_time()
                leaves = mine.catch_up()
                seconds.append(time.process_time() - cpu)
                if list(fresh.leaves()) != list(served.leaves(0, fresh.size)):
                    raise RuntimeError("the fresh ledger's leaves differ from the service's")
                fresh.close()

        asyncio.run(lifespan(project, body))
    orders = a.requests * a.items
    per = [s / orders * 1e6 for s in seconds]
    per_leaf = statistics.median(seconds) / leaves * 1e6
    print(f"command: {run['command']}")
    print(f"date: {run['date']}  load average at start: {run['load_average']}")
    print(f"signer: {leaves:,} leaves for {orders:,} orders in bulk entries of {a.items}; "
          f"CPU per order {statistics.median(per):.1f} µs (median of {a.rounds} rounds, "
          f"{min(per):.1f}-{max(per):.1f}); per leaf {per_leaf:,.0f} µs")


if __name__ == "__main__":
    main()

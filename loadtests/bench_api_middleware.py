"""What the API framework costs per request: ``POST /bench/echo`` (token check, role check,
validated body, no registry call) in process, plain, with a fresh ``Idempotency-Key`` (a token
lookup, a durable SQLite claim and the stored response) and replayed under a used key.

    python -m loadtests.bench_api_middleware [--requests N] [--rounds R]

Sequential requests through Starlette's test client, so the figures compare the variants
with each other; they are not the service's throughput (see ``make loadtest``).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient

from api.app import create_app
from registry.bootstrap import build_registry
from registry.seed_users import issue_in

BODY = {"side": "buy", "price": 300000, "quantity": 40000}


def _token(folder: Path) -> str:
    registry = build_registry({"REGISTRY_DATA_DIR": str(folder)})
    try:
        return issue_in(registry, "enterprise", "91440300MAJH82LCJY")[1]
    finally:
        registry.close()


def _rate(client: TestClient, headers: list[dict[str, str]]) -> float:
    start = time.perf_counter()
    for h in headers:
        response = client.post("/bench/echo", json=BODY, headers=h)
        if response.status_code != 201:
            raise SystemExit(f"unexpected {response.status_code}: {response.text}")
    return len(headers) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        auth = {"Authorization": f"Bearer {_token(folder)}"}
        figures: dict[str, list[float]] = {"plain": [], "fresh key": [], "replayed key": []}
        benchmark = {"REGISTRY_DATA_DIR": tmp, "REGISTRY_BENCH_ENDPOINTS": "1"}  # /bench/echo
        with TestClient(create_app(benchmark)) as client:
            client.post("/bench/echo", json=BODY, headers={**auth, "Idempotency-Key": "seen"})
            for r in range(args.rounds):
                n = args.requests
                figures["plain"].append(_rate(client, [auth] * n))
                figures["fresh key"].append(_rate(
                    client, [{**auth, "Idempotency-Key": f"k-{r}-{i}"} for i in range(n)]))
                figures["replayed key"].append(_rate(
                    client, [{**auth, "Idempotency-Key": "seen"}] * n))
    print(f"POST /bench/echo in process, {args.requests} sequential requests x {args.rounds} "
          "rounds (requests/s: median, min-max)")
    for name, rates in figures.items():
        print(f"  {name:<13} {statistics.median(rates):8.0f}  ({min(rates):.0f}-{max(rates):.0f})"
              f"  = {1000 / statistics.median(rates):.2f} ms/request")
    print("command: python -m loadtests.bench_api_middleware "
          f"--requests {args.requests} --rounds {args.rounds}")


if __name__ == "__main__":
    main()

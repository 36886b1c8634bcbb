"""The reference the HTTP figures are measured against: a bare FastAPI app.

One route, ``POST /bench/echo``, with the same pydantic body model as the limit-order route
(`api.schemas.markets.OrderIn`), a plain ``def`` handler (run in uvicorn's thread pool like the
project's handlers), no middleware, no authentication, no store; served by uvicorn with the
same settings as ``registry serve`` (one process, ``log_level="warning"``). ``run_load
--compare`` saturates it with the same Locust settings in the same run as the project's
``/bench/echo`` and limit-order submission, and reports each as a share of it.

Run: ``.venv/bin/python -m loadtests.bare_app --port 8001``.
"""

from __future__ import annotations

import argparse

from fastapi import FastAPI

from api.schemas.markets import OrderIn

app = FastAPI(title="bare reference")


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/bench/echo", status_code=201)
def echo(body: OrderIn) -> dict[str, object]:
    """Validate the order body and echo its fields back."""
    return {"account": body.account or "", "side": body.side, "kind": body.kind,
            "price": body.price or 0, "quantity": body.quantity}


#: the same app with an ``async def`` handler (no thread-pool hop): not the issue's reference,
#: measured beside it (`loadtests.bench_asgi` ``bare-async``) to show what the hop costs
async_app = FastAPI(title="bare reference, async handler")


@async_app.post("/bench/echo", status_code=201)
async def echo_async(body: OrderIn) -> dict[str, object]:
    """`echo` on the event loop."""
    return echo(body)


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8001)
    a = p.parse_args(argv)
    uvicorn.run(app, host=a.host, port=a.port, log_level="warning",
                timeout_graceful_shutdown=5)


if __name__ == "__main__":
    main()

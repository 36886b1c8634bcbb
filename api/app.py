"""The FastAPI application: ``create_app(env)`` composes it; nothing happens at import time."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from api import console, errors, openapi
from api.idempotency import open_store
from api.limits import Guards, max_body_bytes, rate_limits
from api.routes import (
    agencies,
    agreements,
    auctions,
    audit,
    bench,
    cash,
    compliance,
    credit,
    enterprises,
    expansions,
    holdings,
    ledger,
    markets,
    proposals,
    reports,
    representatives,
    retrofits,
    rights,
    rules,
    sampling,
    tokens,
    trades,
    users,
)
from api.stack import RequestStack
from api.state import AppState


def create_app(env: Mapping[str, str]) -> FastAPI:
    """The API over the registry and ledger selected by ``env`` (see ``registry.config``).

    Requests pass, outermost first: the catch-all that turns an unexpected exception into a
    problem 500, HEAD turned into a bodiless GET, bearer-token authentication (401 before any
    body is read; 429 for a stream of invalid tokens), the per-user rate limit (429), the body
    size cap (413), Idempotency-Key replay, then the routes; all but the catch-all are the
    one layer `api.stack.RequestStack`."""
    body_cap, limits = max_body_bytes(env), rate_limits(env)  # bad settings fail here
    guards = Guards(env)
    # The router tries each area in turn, so the busiest paths come first: order entry
    # (and the benchmark's baseline beside it) no longer waits behind twenty areas' routes.
    # Order matters only between areas serving the same first path segment
    # (tests/api/test_bench.py checks these serve their segments alone).
    areas = [markets, enterprises, agencies, retrofits, holdings, expansions, credit, reports,
             trades, agreements, auctions, cash, tokens, users, proposals, ledger, audit,
             sampling, rights, compliance, representatives, rules]
    if benchmark_endpoints(env):
        areas.insert(0, bench)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.registry_state = AppState.open(env)
        app.state.registry_state.warm()  # /health answers once the first requests are cheap
        app.state.registry_state.start_signing()  # the ledger follows and signs on its own
        app.state.idempotency = open_store(env)
        try:
            yield
        finally:
            app.state.idempotency.close()
            app.state.registry_state.close()

    # /docs and /redoc are the console's, served from vendored assets (no CDN)
    app = FastAPI(title="Surplus Registry", version="0.1.0", lifespan=lifespan,
                  dependencies=[Depends(openapi.reject_undocumented_query)],
                  docs_url=None, redoc_url=None)
    app.state.limits = guards
    errors.install(app)
    openapi.install(app)
    app.add_middleware(RequestStack, max_bytes=body_cap, limits=limits)  # one layer, in order

    @app.get("/health", tags=["health"])
    def health() -> dict[str, str]:
        return {"status": "ok"}

    for area in areas:
        app.include_router(area.router)
    console.install(app)
    return app


def benchmark_endpoints(env: Mapping[str, str]) -> bool:
    """Whether ``/bench`` (`api.routes.bench`, the load test's baseline) is mounted:
    ``REGISTRY_BENCH_ENDPOINTS=1`` in the benchmark configuration the load tests start the
    service with, never by default."""
    text = env.get("REGISTRY_BENCH_ENDPOINTS", "0")
    if text not in ("0", "1"):
        raise ValueError(f"REGISTRY_BENCH_ENDPOINTS must be 0 or 1, not {text!r}")
    return text == "1"

"""The FastAPI application: ``create_app(env)`` composes it; nothing happens at import time."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import errors
from api.routes import (
    agencies,
    agreements,
    auctions,
    audit,
    bench,
    cash,
    credit,
    enterprises,
    expansions,
    holdings,
    ledger,
    markets,
    reports,
    retrofits,
    tokens,
    trades,
)
from api.state import AppState


def create_app(env: Mapping[str, str]) -> FastAPI:
    """The API over the registry and ledger selected by ``env`` (see ``registry.config``)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.registry_state = AppState.open(env)
        try:
            yield
        finally:
            app.state.registry_state.close()

    app = FastAPI(title="Surplus Registry", version="0.1.0", lifespan=lifespan)
    errors.install(app)

    @app.get("/health", tags=["health"])
    def health() -> dict[str, str]:
        return {"status": "ok"}

    for area in (enterprises, agencies, retrofits, holdings, expansions, credit, reports,
                 markets, trades, agreements, auctions, cash, tokens, ledger, audit, bench):
        app.include_router(area.router)
    return app

"""A seeded data folder for the exchange API tests, and tokens for every role.

Dyeing holds 100 t of COD (Maozhou basin) and Electronics 50 t of NOX (Shenzhen); the four
Shenzhen/Dongguan enterprises have 1,000,000 CNY each; the COD and NOX markets are open at
8,000 CNY per tonne.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient

from api.app import create_app
from api.tokens import TokenStore
from registry.bootstrap import build_registry
from tests.integration.test_exchange_journeys import COD, NOX, PRICE, exchange_world
from tests.world import World

__all__ = ["COD", "NOX", "PRICE", "Exchange", "open_exchange"]


@dataclass
class Exchange:
    client: TestClient
    world: World
    folder: Path

    def token(self, role: str, subject: str) -> dict[str, str]:
        now = datetime.now(UTC)
        store = TokenStore(self.folder / "tokens.sqlite")
        try:
            _, secret = store.create(role=role, subject=subject, now=now,
                                     expires_at=now + timedelta(hours=1))
        finally:
            store.close()
        return {"Authorization": f"Bearer {secret}"}

    def enterprise(self, code: str) -> dict[str, str]:
        return self.token("enterprise", code)

    @property
    def registry(self):  # type: ignore[no-untyped-def]
        return self.client.app.state.registry_state.registry  # type: ignore[attr-defined]


def open_exchange(folder: Path, store: dict[str, str] | None = None,
                  **params: object) -> Iterator[Exchange]:
    """The seeded exchange behind a test client; ``store`` selects another event store (the
    tokens and the ledger stay in ``folder``)."""
    env = {"REGISTRY_DATA_DIR": str(folder), **(store or {})}
    app = build_registry(env)
    world = exchange_world(app, **params)
    app.close()
    with TestClient(create_app(env)) as client:
        yield Exchange(client=client, world=world, folder=folder)

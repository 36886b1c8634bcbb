"""A seeded data folder for the exchange API tests, and tokens for every role.

Dyeing holds 100 t of COD (Maozhou basin) and Electronics 50 t of NOX (Shenzhen); the four
Shenzhen/Dongguan enterprises have 1,000,000 CNY each; the COD and NOX markets are open at
8,000 CNY per tonne.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from api.app import create_app
from registry.bootstrap import build_registry
from registry.seed_users import issue_in, issue_many
from registry.speedups import Speedups
from tests.integration.test_exchange_journeys import COD, NOX, PRICE, exchange_world
from tests.support.tokens import approve
from tests.support.world import World

__all__ = ["COD", "NOX", "PRICE", "Exchange", "open_exchange"]


#: the principals of the tests, whose users and tokens exist before a test runs (a token
#: minted during a test would be an event of its own)
ADMINS = ("wang.fang", "approver.two", "gdee-li", "gdee-wu", "chen.jie", "zhao.min", "a")
AUDITORS = ("li.wei", "audit-zhao")


@dataclass
class Exchange:
    client: TestClient
    world: World
    folder: Path
    tokens: dict[tuple[str, str], str] = field(default_factory=dict)

    def token(self, role: str, subject: str) -> dict[str, str]:
        if (role, subject) not in self.tokens:
            self.tokens[role, subject] = issue_in(self.registry, role, subject)[1]
        return {"Authorization": f"Bearer {self.tokens[role, subject]}"}

    def approve(self, response: Any, *, by: str = "approver.two") -> Any:
        """Approve the proposal a 202 ``response`` holds, as a second administrator."""
        return approve(self.client, response, self.token("administrator", by))

    def act(self, path: str, body: Any = None, *, by: str = "wang.fang",
            approver: str = "approver.two") -> Any:
        """Propose a sensitive act as ``by`` (202) and approve it as ``approver``: the
        approval's response (200 with ``result``, or the act's refusal)."""
        proposed = self.client.post(path, json={} if body is None else body,
                                    headers=self.token("administrator", by))
        assert proposed.status_code == 202, proposed.text
        return self.client.post(f"/proposals/{proposed.json()['id']}/approve",
                                headers=self.token("administrator", approver))

    def enterprise(self, code: str) -> dict[str, str]:
        return self.token("enterprise", code)

    def representative(self, code: str) -> dict[str, str]:
        """The enterprise's second representative (``rep.<code>``)."""
        return self.token("representative", code)

    def confirm(self, response: Any, code: str) -> Any:
        """Confirm the request a 202 ``response`` holds as ``code``'s second representative:
        the confirmation's response (200 with the request and the act's result)."""
        assert response.status_code == 202, response.text
        request_id = response.json()["id"]
        return self.client.post(f"/enterprises/{code}/requests/{request_id}/confirm",
                                headers=self.representative(code))

    @property
    def registry(self):  # type: ignore[no-untyped-def]
        return self.client.app.state.registry_state.registry  # type: ignore[attr-defined]


def open_exchange(folder: Path, store: dict[str, str] | None = None,
                  **params: object) -> Iterator[Exchange]:
    """The seeded exchange behind a test client; ``store`` selects another event store (the
    tokens and the ledger stay in ``folder``)."""
    # tests that try many bad tokens from one client address lift the guessing limit
    env = {"REGISTRY_DATA_DIR": str(folder), "REGISTRY_BAD_TOKEN_LIMIT": "none",
           **(store or {})}
    app = build_registry(env)
    world = exchange_world(app, **params)
    parties = [("enterprise", c) for c in vars(world).values()]
    agencies = [("agency", c) for c in (world.auditor, world.verifier, world.other_agency)]
    tokens = issue_many(app, [("administrator", a) for a in ADMINS]
                        + [("auditor", a) for a in AUDITORS] + parties[:5] + agencies)
    app.close()
    with TestClient(create_app(env)) as client:
        yield Exchange(client=client, world=world, folder=folder, tokens=tokens)


def open_pair(folder: Path, speedup: str) -> Iterator[tuple[Exchange, Exchange]]:
    """Two seeded exchanges in ``folder``: one with every speed-up, one without ``speedup``
    (its plain path), for a test that both answer alike."""
    without = ",".join(n for n in Speedups.names() if n != speedup)
    (folder / "fast").mkdir()
    (folder / "plain").mkdir()
    with ExitStack() as stack:
        fast = stack.enter_context(contextmanager(open_exchange)(folder / "fast"))
        plain = stack.enter_context(contextmanager(open_exchange)(
            folder / "plain", {"REGISTRY_SPEEDUPS": without}))
        yield fast, plain

"""Helpers of the registry-area API tests: a client with real bearer tokens per role, and the
problem+json check. The fixtures that build it live in ``tests.support.registry_world``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from httpx import Response

from registry.seed_users import issue_in
from tests.support.world import ENTERPRISES, World, code

COD = "COD-2025-MAOZHOU"
PROBLEM = "application/problem+json"


def world_codes() -> World:
    codes = {key: code(n) for n, (key, *_) in enumerate(ENTERPRISES, start=1)}
    for n, key in enumerate(("auditor", "verifier", "other_agency"), start=1):
        codes[key] = code(n, prefix="91440101MA9X")
    return World(**codes)


@dataclass
class Api:
    """A client with one real token per principal, minted on first use."""

    client: TestClient
    folder: Path
    w: World = field(default_factory=world_codes)
    _tokens: dict[tuple[str, str], str] = field(default_factory=dict)

    def headers(self, role: str, subject: str) -> dict[str, str]:
        if (role, subject) not in self._tokens:
            registry = self.client.app.state.registry_state.registry  # type: ignore[attr-defined]
            self._tokens[role, subject] = issue_in(registry, role, subject)[1]
        return {"Authorization": f"Bearer {self._tokens[role, subject]}"}

    def as_(self, role: str, subject: str) -> _As:
        return _As(self, self.headers(role, subject))

    @property
    def admin(self) -> _As:
        return self.as_("administrator", "gdee-admin-li")

    @property
    def second_admin(self) -> _As:
        return self.as_("administrator", "gdee-admin-chen")

    @property
    def auditor(self) -> _As:
        return self.as_("auditor", "audit-zhao")

    def firm(self, credit_code: str) -> _As:
        return self.as_("enterprise", credit_code)

    def agency(self, credit_code: str) -> _As:
        return self.as_("agency", credit_code)

    @property
    def anonymous(self) -> _As:
        return _As(self, {})

    def position(self) -> int:
        return int(self.client.app.state.registry_state.registry.queries.position())  # type: ignore[attr-defined]


@dataclass
class _As:
    api: Api
    auth: dict[str, str]

    def get(self, path: str, **params: Any) -> Response:
        return self.api.client.get(path, params=params, headers=self.auth)

    def post(self, path: str, body: Any = None, **headers: str) -> Response:
        return self.api.client.post(path, json={} if body is None else body,
                                    headers={**self.auth, **headers})

    def act(self, path: str, body: Any = None, **headers: str) -> Response:
        """Propose a sensitive act (202) and have a second administrator approve it: the
        approval's response (200 with the act's ``result``, or its refusal)."""
        proposed = self.post(path, body, **headers)
        assert proposed.status_code == 202, proposed.text
        return self.api.second_admin.post(f"/proposals/{proposed.json()['id']}/approve")


def problem(response: Response, status: int, type_suffix: str | None = None) -> dict[str, Any]:
    """Assert ``response`` is an RFC 9457 problem with this status (and ``type`` suffix)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    if type_suffix is not None:
        assert body["type"].endswith("/" + type_suffix), body
    return body

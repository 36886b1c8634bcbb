"""The load test's baseline endpoint: authenticated and validated like an order, writes nothing;
mounted only in the benchmark configuration (``REGISTRY_BENCH_ENDPOINTS=1``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from tests.support.tokens import bearer
from tests.support.world import code

ORDER = {"side": "buy", "kind": "limit", "price": 300_000, "quantity": 5_000}


pytest_plugins = ["tests.support.seeded_folder"]  # folder, client
BENCHMARK = {"REGISTRY_BENCH_ENDPOINTS": "1"}


@pytest.fixture
def client(folder: Path) -> Iterator[TestClient]:
    """The app in the benchmark configuration the load tests serve."""
    with TestClient(create_app({"REGISTRY_DATA_DIR": str(folder), **BENCHMARK})) as c:
        yield c


def test_bench_is_not_mounted_by_default(folder: Path) -> None:
    with TestClient(create_app({"REGISTRY_DATA_DIR": str(folder)})) as plain:
        headers = bearer(folder, "enterprise", code(1))
        assert plain.post("/bench/echo", json=ORDER, headers=headers).status_code == 404
        assert not [p for p in plain.app.openapi()["paths"] if p.startswith("/bench")]


def test_the_setting_is_0_or_1(folder: Path) -> None:
    with pytest.raises(ValueError, match="REGISTRY_BENCH_ENDPOINTS must be 0 or 1"):
        create_app({"REGISTRY_DATA_DIR": str(folder), "REGISTRY_BENCH_ENDPOINTS": "yes"})


def position(client: TestClient) -> int:
    return int(client.app.state.registry_state.registry.queries.position())  # type: ignore[attr-defined]


def test_enterprise_echo_acts_for_itself_and_writes_nothing(client: TestClient,
                                                            folder: Path) -> None:
    headers = bearer(folder, "enterprise", code(1))  # issuing it is an event of its own
    before = position(client)
    response = client.post("/bench/echo", json=ORDER, headers=headers)
    assert response.status_code == 201
    assert response.json() == {"account": code(1), **ORDER}
    assert position(client) == before


def test_administrator_names_the_account(client: TestClient, folder: Path) -> None:
    headers = bearer(folder, "administrator", "admin-1")
    assert client.post("/bench/echo", json={**ORDER, "account": code(2)},
                       headers=headers).json()["account"] == code(2)
    assert client.post("/bench/echo", json=ORDER, headers=headers).status_code == 422


def test_no_token_is_401_and_wrong_role_403(client: TestClient, folder: Path) -> None:
    assert client.post("/bench/echo", json=ORDER).status_code == 401
    response = client.post("/bench/echo", json=ORDER,
                           headers=bearer(folder, "auditor", "li.wei"))
    assert response.status_code == 403


@pytest.mark.parametrize("body", [
    {**ORDER, "quantity": 0},
    {**ORDER, "price": 3.5},
    {**ORDER, "side": "hold"},
    {**ORDER, "extra": 1},
])
def test_bad_body_is_422_problem_json(client: TestClient, folder: Path,
                                      body: dict[str, object]) -> None:
    response = client.post("/bench/echo", json=body,
                           headers=bearer(folder, "enterprise", code(1)))
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")


def test_the_areas_mounted_first_serve_their_path_segments_alone(folder: Path) -> None:
    """Order entry and /bench are tried first (api.app): that may not change which route
    answers a request, so no other area serves a path under their first segments."""
    from api.routes import bench, markets

    app = create_app({"REGISTRY_DATA_DIR": str(folder), "REGISTRY_BENCH_ENDPOINTS": "1"})

    def first_segments(router: object) -> set[str]:
        inner = getattr(router, "original_router", router)
        return {getattr(r, "path", "").split("/")[1] for r in getattr(inner, "routes", [router])
                if getattr(r, "path", "").startswith("/")}

    first = {"markets", "bench"}
    assert first_segments(markets.router) | first_segments(bench.router) == first
    others = [r for r in app.router.routes
              if getattr(r, "original_router", None) not in (markets.router, bench.router)]
    assert others and all(not (first_segments(r) & first) for r in others)

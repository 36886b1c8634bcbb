"""Shared fixtures: backends for contract suites and the throw-away PostgreSQL server."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from registry.bootstrap import Registry, build_registry
from tests.support import pgserver

# the browser tests' plugin, whose helpers their modules import before pytest_plugins loads it
pytest.register_assert_rewrite("tests.support.browser")

Factory = Callable[[], Registry]

_db_counter = itertools.count()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[pgserver.PostgresServer]:
    server = pgserver.start()
    try:
        yield server
    finally:
        pgserver.stop(server)


@pytest.fixture
def postgres_env(postgres_server: pgserver.PostgresServer) -> dict[str, str]:
    return pgserver.create_database(postgres_server, f"t{next(_db_counter)}")


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Factory]:
    """Contract suites run once per backend. The factory makes registry instances sharing one
    store (a second instance stands for another process); the in-memory store has just one."""
    if request.param == "memory":
        app = build_registry({"REGISTRY_STORE": "memory"})
        yield lambda: app
        return
    if request.param == "sqlite":
        env = {"REGISTRY_DATA_DIR": str(tmp_path / "data")}
    else:
        env = {"REGISTRY_STORE": "postgres", **request.getfixturevalue("postgres_env")}
    apps: list[Registry] = []

    def make() -> Registry:
        apps.append(build_registry(env))
        return apps[-1]

    yield make
    for a in apps:
        a.close()

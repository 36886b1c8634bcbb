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

#: the data folder a registry opens when told none (``REGISTRY_DATA_DIR``), relative to the
#: checkout the suite runs in: a developer's own registry lives there, so no test may write it
DEFAULT_DATA_DIR = Path("data").resolve()
_DEFAULT_DATA_DIR_EXISTED = DEFAULT_DATA_DIR.exists()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run when a test left the default data folder behind (checked when the run
    started without one: a test that opens a registry names its own folder)."""
    if not _DEFAULT_DATA_DIR_EXISTED and DEFAULT_DATA_DIR.exists():
        found = sorted(p.name for p in DEFAULT_DATA_DIR.iterdir())
        writer = session.config.get_terminal_writer()
        writer.line()
        writer.line(f"a test wrote the default data folder {DEFAULT_DATA_DIR}: {found}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


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
        env = {"REGISTRY_STORE": "postgres", "REGISTRY_DATA_DIR": str(tmp_path / "data"),
               **request.getfixturevalue("postgres_env")}
    apps: list[Registry] = []

    def make() -> Registry:
        apps.append(build_registry(env))
        return apps[-1]

    yield make
    for a in apps:
        a.close()

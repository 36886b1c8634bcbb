"""Shared fixtures: backends for contract suites and the throw-away PostgreSQL server."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from tests import pgserver

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

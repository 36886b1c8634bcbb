"""The test session's own PostgreSQL server comes up and takes connections."""

import psycopg
import pytest


@pytest.mark.postgres
def test_throwaway_postgres_accepts_connections(postgres_env: dict[str, str]) -> None:
    with psycopg.connect(
        host=postgres_env["POSTGRES_HOST"], port=int(postgres_env["POSTGRES_PORT"]),
        user=postgres_env["POSTGRES_USER"], password=postgres_env["POSTGRES_PASSWORD"],
        dbname=postgres_env["POSTGRES_DBNAME"],
    ) as conn:
        assert conn.execute("select 1 + 1").fetchone() == (2,)

"""Fixtures of API tests that change the data folder itself (tokens, idempotency records,
limits), used as a pytest plugin: the world of `tests.support.world.seed_data_folder` in the
test's own folder, and a client over it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from tests.support.world import seed_data_folder


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    seed_data_folder(tmp_path)
    return tmp_path


@pytest.fixture
def client(folder: Path) -> Iterator[TestClient]:
    with TestClient(create_app({"REGISTRY_DATA_DIR": str(folder)})) as c:
        yield c

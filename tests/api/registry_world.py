"""Fixtures of the registry-area API tests (used as a pytest plugin): a seeded data folder
(tests.world: five enterprises, three accredited agencies, retrofit RF-1 issued 800 kg COD to
``dyeing``, 300 of them transferred to ``paper``) copied per test, and a client over it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from tests.api.registry_helpers import Api
from tests.world import seed_data_folder


@pytest.fixture(scope="session")
def seeded_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("registry-world")
    seed_data_folder(folder)
    return folder


@pytest.fixture
def api(seeded_template: Path, tmp_path: Path) -> Iterator[Api]:
    folder = tmp_path / "data"
    shutil.copytree(seeded_template, folder)
    with TestClient(create_app({"REGISTRY_DATA_DIR": str(folder)})) as client:
        yield Api(client=client, folder=folder)

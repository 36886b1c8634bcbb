"""Fixtures of the registry-area API tests (used as a pytest plugin): a seeded data folder
(tests.support.world: five enterprises, three accredited agencies, retrofit RF-1 issued 800 kg
COD to ``dyeing``, 300 of them transferred to ``paper``) copied per test, and a client over it."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from registry.bootstrap import build_registry
from registry.seed_users import issue_many
from tests.support.registry_helpers import Api, world_codes
from tests.support.world import seed_data_folder

#: the principals of the tests, whose users and tokens the template already holds (a token
#: minted during a test would be an event of its own)
ADMINS = ("gdee-admin-li", "gdee-admin-chen", "chen.jie", "zhao.min", "wang.fang")
AUDITORS = ("audit-zhao", "li.wei")


def principals() -> list[tuple[str, str]]:
    w = world_codes()
    firms = [("enterprise", c) for c in list(vars(w).values())[:5]]
    agencies = [("agency", c) for c in (w.auditor, w.verifier, w.other_agency)]
    return ([("administrator", a) for a in ADMINS] + [("auditor", a) for a in AUDITORS]
            + firms + agencies)


@pytest.fixture(scope="session")
def seeded_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("registry-world")
    seed_data_folder(folder)
    registry = build_registry({"REGISTRY_DATA_DIR": str(folder)})
    try:
        issued = issue_many(registry, principals())
    finally:
        registry.close()
    (folder / "test-tokens.json").write_text(json.dumps(
        [[role, subject, secret] for (role, subject), secret in issued.items()]))
    return folder


@pytest.fixture
def api(seeded_template: Path, tmp_path: Path) -> Iterator[Api]:
    folder = tmp_path / "data"
    shutil.copytree(seeded_template, folder)
    tokens = {(r, s): t for r, s, t in json.loads((folder / "test-tokens.json").read_text())}
    with TestClient(create_app({"REGISTRY_DATA_DIR": str(folder),
                                "REGISTRY_BAD_TOKEN_LIMIT": "none"})) as client:
        yield Api(client=client, folder=folder, _tokens=tokens)

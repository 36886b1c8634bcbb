"""The domain stays pure: no infrastructure, no outer layer, no clock, no randomness."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = {"fastapi", "pydantic", "cryptography", "sqlite3", "psycopg", "registry", "api",
             "ledger", "random", "time", "secrets", "os", "socket", "requests", "httpx"}


def imported_modules(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def violations(folder: Path) -> list[str]:
    found = []
    for path in sorted(folder.rglob("*.py")):
        for name in imported_modules(path):
            if name.split(".")[0] in FORBIDDEN:
                found.append(f"{path.relative_to(folder.parent)} imports {name}")
    return found


def test_domain_imports_nothing_outside_stdlib_and_eventsourcing_domain() -> None:
    assert violations(ROOT / "domain") == []


def test_domain_uses_only_the_domain_part_of_eventsourcing() -> None:
    bad = [
        f"{p.name}: {n}" for p in (ROOT / "domain").rglob("*.py") for n in imported_modules(p)
        if n.startswith("eventsourcing") and n != "eventsourcing.domain"
    ]
    assert bad == []


@pytest.mark.parametrize("module", ["fastapi", "ledger.merkle", "registry.app", "sqlite3"])
def test_layering_check_catches_a_forbidden_import(tmp_path: Path, module: str) -> None:
    pkg = tmp_path / "domain"
    pkg.mkdir()
    (pkg / "bad.py").write_text(f"import {module}\n")
    assert violations(pkg) == [f"domain/bad.py imports {module}"]

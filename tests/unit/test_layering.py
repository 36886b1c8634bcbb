"""The layers and their arrows, read from the source with ``ast``.

- ``domain/`` stays pure: no infrastructure, no outer layer, no clock, no randomness;
- ``ledger/`` uses the standard library and ``cryptography`` alone;
- the arrows point one way: ``cli`` → ``api`` → ``registry`` → ``ledger``/``domain``; nothing
  imports ``cli``, ``registry`` never imports ``api``;
- no product package imports ``tests`` or ``loadtests`` (they are not installed with it);
- no import circle among the project's modules.

What counts as an import, for the arrows and the circles: every ``import`` statement wherever
it stands, at the top of a module or inside a function (a lazy import runs as surely, only
later: hiding an arrow in a function does not turn it round). Imports under
``if TYPE_CHECKING:`` run never and are left out of the circles; they still count for the
arrows between layers. The implicit import of a package's ``__init__`` when one of its
modules is imported is not an arrow.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("domain", "ledger", "registry", "api", "cli")
PROJECT = (*PRODUCT, "tests", "loadtests")
FORBIDDEN = {"fastapi", "pydantic", "cryptography", "sqlite3", "psycopg", "registry", "api",
             "ledger", "cli", "random", "time", "secrets", "os", "socket", "requests", "httpx"}
#: the packages each product package may not import (besides `tests` and `loadtests`)
UPWARD = {"ledger": {"domain", "registry", "api", "cli"}, "registry": {"api", "cli"},
          "api": {"cli"}}


@dataclass(frozen=True, slots=True)
class Import:
    module: str  # as written (made absolute for a relative import)
    names: tuple[str, ...]  # what ``from module import …`` names; empty for ``import module``
    type_checking: bool  # under ``if TYPE_CHECKING:``


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, root: Path = ROOT) -> Iterator[Import]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module_name(path, root).split(".")
    if path.name != "__init__.py":
        package = package[:-1]

    def walk(node: ast.AST, type_checking: bool) -> Iterator[Import]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                for alias in child.names:
                    yield Import(alias.name, (), type_checking)
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package[:len(package) - (child.level - 1)]
                    module = ".".join([*base, *([child.module] if child.module else [])])
                else:
                    module = child.module or ""
                yield Import(module, tuple(a.name for a in child.names), type_checking)
            under = type_checking or (isinstance(child, ast.If)
                                      and "TYPE_CHECKING" in ast.unparse(child.test))
            yield from walk(child, under)

    yield from walk(tree, False)


def imported_modules(path: Path) -> list[str]:
    root = ROOT if path.is_relative_to(ROOT) else path.parents[1]
    return [i.module for i in imports(path, root)]


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


@pytest.mark.parametrize("module", ["fastapi", "ledger.merkle", "registry.app", "sqlite3",
                                    "cli.main"])
def test_layering_check_catches_a_forbidden_import(tmp_path: Path, module: str) -> None:
    pkg = tmp_path / "domain"
    pkg.mkdir()
    (pkg / "bad.py").write_text(f"import {module}\n")
    assert violations(pkg) == [f"domain/bad.py imports {module}"]


# -- ledger/: the standard library and cryptography --------------------------------------------


def outside_stdlib(folder: Path, allowed: set[str]) -> list[str]:
    own = folder.name
    return [f"{path.relative_to(folder.parent)} imports {i.module}"
            for path in sorted(folder.rglob("*.py")) for i in imports(path, folder.parent)
            if (top := i.module.split(".")[0]) not in sys.stdlib_module_names
            and top != own and top not in allowed]


def test_ledger_uses_only_the_standard_library_and_cryptography() -> None:
    assert outside_stdlib(ROOT / "ledger", {"cryptography"}) == []


def test_ledger_check_catches_a_third_party_or_project_import(tmp_path: Path) -> None:
    pkg = tmp_path / "ledger"
    pkg.mkdir()
    (pkg / "ok.py").write_text("import hashlib\nfrom cryptography import x509\nfrom . import ok\n")
    (pkg / "bad.py").write_text("def f():\n    import orjson\n    from registry import app\n")
    assert outside_stdlib(pkg, {"cryptography"}) == ["ledger/bad.py imports orjson",
                                                     "ledger/bad.py imports registry"]


# -- arrows between the layers -----------------------------------------------------------------


def upward_imports(root: Path) -> list[str]:
    """Imports against the layering: a lower package importing a higher one, and any product
    package importing the tests or the load tests."""
    found = []
    for package in PRODUCT:
        if not (root / package).is_dir():
            continue
        forbidden = UPWARD.get(package, set()) | {"tests", "loadtests"}
        for path in sorted((root / package).rglob("*.py")):
            for i in imports(path, root):
                if i.module.split(".")[0] in forbidden:
                    found.append(f"{path.relative_to(root)} imports {i.module}")
    return found


def test_arrows_point_down_and_never_into_the_tests() -> None:
    assert upward_imports(ROOT) == []


def test_load_tests_share_only_the_tests_support_helpers() -> None:
    """The load tests reuse the tests' worlds and PostgreSQL server through ``tests.support``
    alone, never a test module."""
    found = [f"{path.relative_to(ROOT)} imports {i.module}"
             for path in sorted((ROOT / "loadtests").rglob("*.py")) for i in imports(path)
             if i.module.split(".")[0] == "tests"
             and not (i.module == "tests.support" or i.module.startswith("tests.support."))]
    assert found == []


@pytest.mark.parametrize(("where", "source", "expected"), [
    ("registry/x.py", "from api.deps import now\n", "registry/x.py imports api.deps"),
    ("registry/x.py", "def f():\n    import cli.main\n", "registry/x.py imports cli.main"),
    ("api/x.py", "from cli import main\n", "api/x.py imports cli"),
    ("ledger/x.py", "from registry import app\n", "ledger/x.py imports registry"),
    ("api/x.py", "from tests.support import world\n", "api/x.py imports tests.support"),
    ("cli/x.py", "import loadtests.asgi\n", "cli/x.py imports loadtests.asgi"),
])
def test_arrow_check_catches_an_upward_import(tmp_path: Path, where: str, source: str,
                                              expected: str) -> None:
    path = tmp_path / where
    path.parent.mkdir(parents=True)
    (path.parent / "__init__.py").write_text("")
    path.write_text(source)
    assert upward_imports(tmp_path) == [expected]


# -- no import circle --------------------------------------------------------------------------


def module_graph(root: Path, packages: tuple[str, ...], *,
                 type_checking: bool = False) -> dict[str, set[str]]:
    """Module → the project modules it imports (``from package import module`` names the
    module; ``from module import name`` the module)."""
    paths = {module_name(p, root): p for package in packages if (root / package).is_dir()
             for p in (root / package).rglob("*.py")}

    def resolve(name: str) -> str | None:
        while name and name not in paths:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for module, path in paths.items():
        targets = set()
        for i in imports(path, root):
            if i.type_checking and not type_checking:
                continue
            named = [f"{i.module}.{n}" for n in i.names if f"{i.module}.{n}" in paths]
            for target in named if len(named) == len(i.names) and named else [i.module]:
                found = resolve(target)
                if found is not None and found != module:
                    targets.add(found)
            if named and len(named) != len(i.names):
                targets.update(named)
        graph[module] = targets
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return sorted(found)


def test_no_import_circle_among_the_projects_modules() -> None:
    assert circles(module_graph(ROOT, PROJECT)) == []


def test_no_import_circle_even_through_type_checking_imports() -> None:
    assert circles(module_graph(ROOT, PROJECT, type_checking=True)) == []


@pytest.mark.parametrize(("files", "expected"), [
    ({"a.py": "from pkg import b\n", "b.py": "def f():\n    from pkg.a import x\n"},
     [["pkg.a", "pkg.b"]]),
    ({"a.py": "import pkg.b\n", "b.py": "import pkg.c\n", "c.py": "from pkg.a import x\n"},
     [["pkg.a", "pkg.b", "pkg.c"]]),
    ({"a.py": "from .b import x\n", "b.py": "from . import a\n"}, [["pkg.a", "pkg.b"]]),
    ({"a.py": "from pkg import b\n", "b.py": "import json\n"}, []),
    ({"a.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import b\n",
      "b.py": "from pkg import a\n"}, []),
])
def test_circle_check_finds_circles_of_any_length_and_lazy_ones(
        tmp_path: Path, files: dict[str, str], expected: list[list[str]]) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    for name, source in files.items():
        (tmp_path / "pkg" / name).write_text(source)
    assert circles(module_graph(tmp_path, ("pkg",))) == expected


def test_request_and_response_bodies_live_under_api_schemas() -> None:
    """Routes parse, authorise, call the registry and answer; the bodies they take and give
    are declared in ``api/schemas/`` (one module per area), never beside a route."""
    inline = [f"{p.name}: {node.name}" for p in sorted((ROOT / "api" / "routes").glob("*.py"))
              for node in ast.parse(p.read_text(encoding="utf-8")).body
              if isinstance(node, ast.ClassDef)]
    assert inline == []

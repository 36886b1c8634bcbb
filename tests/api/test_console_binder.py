"""The console's one way of calling a route function (`api.console.roles.call`): what it fills
from annotations, what it refuses, and that every call the console makes still fits the
route's signature (a changed signature fails here, not in a browser)."""

from __future__ import annotations

import ast
import asyncio
import importlib
import inspect
import threading
from pathlib import Path
from types import ModuleType
from typing import Annotated, Any

import pytest
from fastapi import Depends, Request, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from api.auth import CurrentUser
from api.console.roles import Caller, arrange, call, slots
from api.deps import Administrator, OwnEnterprise, PageDep, PageParams, RegistryDep, StateDep
from api.errors import ApiError
from api.tokens import Principal

CONSOLE = ("admin", "enterprise", "agency", "tokens", "auditor", "roles")
ROOT = Path(__file__).resolve().parents[2]


def principal(role: str, subject: str = "S") -> Principal:
    return Principal(token_id="T-1", user_id="U-1", login="someone", role=role,
                     subject=subject, roles=frozenset(), organisation=role, issued_by="U-1")


class FakeState:
    registry = object()


class Body(BaseModel):
    amount: int


def lookup(reference: str) -> str:  # a path dependency the binder has no plain form of
    return reference


def every_kind(code: OwnEnterprise, body: Body, admin: Administrator, user: CurrentUser,
               state: StateDep, registry: RegistryDep, response: Response, request: Request,
               page: PageDep, note: str | None = None) -> dict[str, Any]:
    return {"code": code, "body": body, "admin": admin, "user": user, "state": state,
            "registry": registry, "response": response, "request": request, "page": page,
            "note": note}


def test_the_binder_gives_the_console_values_and_fills_every_other_parameter() -> None:
    who, state, request = principal("administrator"), FakeState(), object()
    got = call(Caller(who, state, request), every_kind, "E1", Body(amount=3),  # type: ignore[arg-type]
               PageParams(), note="n")
    assert got["code"] == "E1" and got["body"] == Body(amount=3) and got["note"] == "n"
    assert got["admin"] is who and got["user"] is who
    assert got["state"] is state and got["registry"] is state.registry
    assert isinstance(got["response"], Response) and got["request"] is request
    assert got["page"] == PageParams()
    again = call(Caller(who, state, request), every_kind, "E1", Body(amount=3),  # type: ignore[arg-type]
                 PageParams())
    assert again["note"] is None and again["response"] is not got["response"]  # a fresh one


def test_the_binder_makes_the_role_and_ownership_checks_of_the_dependencies() -> None:
    def own(code: OwnEnterprise, user: CurrentUser) -> str:
        return code

    def admin_only(user: Administrator) -> Principal:
        return user

    firm = Caller(principal("enterprise", "E1"), FakeState())  # type: ignore[arg-type]
    assert call(firm, own, "E1") == "E1"
    with pytest.raises(ApiError) as other:
        call(firm, own, "E2")
    assert other.value.status == 404
    with pytest.raises(ApiError) as refused:
        call(firm, admin_only)
    assert refused.value.status == 403


def test_an_async_route_runs_on_the_event_loop_of_the_page_that_calls_it() -> None:
    """The order routes wait for their batch on the event loop: a page, which calls routes
    from the thread pool, has the call run on its loop and gets the route's answer."""
    ran_on: list[int] = []

    async def place(code: str, user: CurrentUser) -> str:
        await asyncio.sleep(0)
        ran_on.append(threading.get_ident())
        return f"{code} by {user.login}"

    me = Caller(principal("enterprise"), FakeState())  # type: ignore[arg-type]

    async def page() -> str:
        return await run_in_threadpool(call, me, place, "E1")

    async def served() -> tuple[str, int]:
        return await page(), threading.get_ident()

    answer, loop_thread = asyncio.run(served())
    assert answer.startswith("E1 by ") and ran_on == [loop_thread]
    with pytest.raises(RuntimeError):  # outside a page's thread pool there is no loop to use
        call(me, place, "E1")


def test_the_binder_refuses_what_it_cannot_fill_naming_it() -> None:
    def readable(thing: Annotated[str, Depends(lookup)], user: CurrentUser) -> str:
        return thing

    def needs_request(request: Request) -> None:
        return None

    me = Caller(principal("administrator"), FakeState())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="'thing'"):
        call(me, readable, "R1")
    with pytest.raises(TypeError, match="'body'"):
        call(me, every_kind, "E1")
    with pytest.raises(TypeError, match="given 5"):
        call(me, every_kind, "E1", Body(amount=1), PageParams(), "n", "too many")
    with pytest.raises(TypeError, match="'nope'"):
        call(me, every_kind, "E1", Body(amount=1), PageParams(), nope=1)
    with pytest.raises(TypeError, match="'request'"):
        call(me, needs_request)


# -- every call the console makes, against the routes' signatures today -----------------------

def _module(name: str) -> ModuleType:
    return importlib.import_module(f"api.console.{name}")


def _tree(name: str) -> ast.Module:
    return ast.parse((ROOT / "api" / "console" / f"{name}.py").read_text())


def _resolve(module: ModuleType, node: ast.expr) -> Any:
    """The object a dotted name of the module stands for (None if it is not one)."""
    if isinstance(node, ast.Name):
        return getattr(module, node.id, None)
    if isinstance(node, ast.Attribute):
        owner = _resolve(module, node.value)
        return None if owner is None else getattr(owner, node.attr, None)
    return None


def _enclosing(tree: ast.Module, target: ast.AST) -> ast.FunctionDef | None:
    found = None
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node is not target \
                and any(n is target for n in ast.walk(node)) \
                and (found is None or any(n is node for n in ast.walk(found))):
            found = node  # the innermost
    return found


def _routes(module: ModuleType, tree: ast.Module, site: ast.Call, node: ast.expr) -> list[Any]:
    """What a route expression of a call site can be: a dotted name; a parameter of a helper
    (each route the module passes to it); a local name (each branch of its assignment)."""
    found = _resolve(module, node)
    if inspect.isfunction(found):
        return [found]
    assert isinstance(node, ast.Name), ast.unparse(node)
    helper = _enclosing(tree, site)
    while helper is not None:
        if node.id in [a.arg for a in helper.args.args]:
            index = [a.arg for a in helper.args.args].index(node.id)
            return [r for c in ast.walk(tree) if isinstance(c, ast.Call)
                    and isinstance(c.func, ast.Name) and c.func.id == helper.name
                    for r in _routes(module, tree, c, c.args[index])]
        for a in ast.walk(helper):
            if isinstance(a, ast.Assign) and any(isinstance(t, ast.Name) and t.id == node.id
                                                 for t in a.targets):
                value = a.value
                branches = [value.body, value.orelse] if isinstance(value, ast.IfExp) else [value]
                return [r for b in branches for r in _routes(module, tree, site, b)]
        helper = _enclosing(tree, helper)
    raise AssertionError(f"cannot tell which route {node.id} is")


def call_sites() -> list[tuple[str, str, Any, int, list[str]]]:
    """(module, source, route, positional values, named values) of every console call."""
    found = []
    for name in CONSOLE:
        module, tree = _module(name), _tree(name)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            if isinstance(node.func, ast.Name) and node.func.id == "call" and name != "roles":
                route, values = node.args[1], node.args[2:]
            elif isinstance(node.func, ast.Attribute) and node.func.attr == "call" and \
                    isinstance(node.func.value, ast.Name) and node.func.value.id == "d":
                route, values = node.args[0], node.args[1:]
            else:
                continue
            if any(isinstance(v, ast.Starred) for v in values):
                helper = _enclosing(tree, node)
                assert helper is not None and helper.name == "call", ast.unparse(node)
                continue  # `Desk.call`, passing its own call's values on
            named = [k.arg for k in node.keywords if k.arg is not None]
            for r in _routes(module, tree, node, route):
                found.append((name, ast.unparse(node)[:90], r, len(values), named))
    return found


SITES = call_sites()


def test_the_console_calls_routes_at_all_its_sites() -> None:
    names = {(r.__module__, r.__name__) for _, _, r, _, _ in SITES}
    assert ("api.routes.cash", "deposit") in names  # through the helper `_cash`
    assert ("api.routes.credit", "restrict_agency") in names
    assert ("api.routes.retrofits", "baseline_audit") in names  # a local name, two branches
    assert ("api.routes.auctions", "place_bid") in names
    assert len(SITES) > 60


@pytest.mark.parametrize("site", SITES, ids=lambda s: f"{s[0]}:{s[2].__module__}.{s[2].__name__}")
def test_every_console_call_fits_its_route(site: tuple[str, str, Any, int, list[str]]) -> None:
    _, source, route, given, named = site
    assert route.__module__.startswith("api.routes."), source
    arrange(route, given, named)  # a missing, unknown or surplus parameter: TypeError


def test_every_route_the_console_names_can_be_filled() -> None:
    """Also the routes the console only names (passed to a helper): none has a dependency the
    binder cannot fill."""
    named = set()
    for name in CONSOLE:
        module = _module(name)
        for node in ast.walk(_tree(name)):
            found = _resolve(module, node) if isinstance(node, ast.Attribute) else None
            if inspect.isfunction(found) and found.__module__.startswith("api.routes."):
                named.add(found)
    assert len(named) > 50
    for route in named:
        slots(route)


def test_no_console_module_calls_an_async_function_without_awaiting_it() -> None:
    """The API's dependencies are async (``require``'s checks, ``owned_enterprise``): called
    from a page without ``await`` they would answer a coroutine and check nothing."""
    for name in CONSOLE:
        module, tree = _module(name), _tree(name)
        awaited = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Await)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and id(node) not in awaited:
                found = _resolve(module, node.func)
                assert not inspect.iscoroutinefunction(found), \
                    f"api/console/{name}.py line {node.lineno}: {ast.unparse(node)[:80]}"

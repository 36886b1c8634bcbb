"""Every route of the app, read from its own OpenAPI document, against the security rules.

- Without a token, and with an expired or a revoked one, every route but a short public list
  answers 401 problem+json.
- Every write is administrator-only unless listed in ``NON_ADMIN_WRITES``; enterprise, agency
  and auditor tokens get 403, the same 403 whether or not the object exists.
- Every route naming an enterprise's object (a ``{code}``, or an order, trade, receipt,
  retrofit, expansion, agreement, report, serial or auction receipt) answers another
  enterprise 404, with exactly the body it gets for an object that does not exist; the owner
  gets 200 on the same path, so the object is real.
- Whatever an outsider may read says nothing of the two trading enterprises.

A route added later is covered without code here: its path parameters must have a meaning in
``PARAMETERS``, and unless it is a listed non-administrator write, it must refuse everyone but
administrators. The market world is ``tests.support.exchange_world``: Shenzhen Huaxin Printing &
Dyeing sells COD of the Maozhou basin, Dongguan Jianhui Paper buys it, and Shenzhen Mawan
Power, a Danshui basin power plant with money of its own, looks in from outside.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from httpx import Response

from api.app import create_app
from registry.events import stored_events
from registry.seed_users import founders, issue_in, user_for
from tests.support.exchange_world import COD, PRICE, Exchange, open_exchange
from tests.support.world import code, sha

PROBLEM = "application/problem+json"
WRITES = {"post", "put", "patch", "delete"}

#: answered to anyone, token or not
PUBLIC = {
    ("get", "/health"),
    ("get", "/ledger/checkpoint"),
    ("get", "/ledger/vkey"),
    ("get", "/ledger/status"),
    ("get", "/ledger/tile/{path}"),
    ("get", "/ledger/proof/inclusion"),
    ("get", "/ledger/proof/consistency"),
    ("post", "/login"),  # a password (and a one-time code) instead of a token
}
#: the document itself and its viewers (not operations of the document)
DOCS = ("/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc")

#: writes that roles other than the administrator make: who may (administrators may act for an
#: enterprise where it may); every other role gets 403
TRADER, AGENCY_ONLY, ENTERPRISE = ("enterprise", "administrator"), ("agency",), ("enterprise",)
#: a user's own credentials: every role looks after its own
ANYONE = ("enterprise", "agency", "administrator", "auditor")
NON_ADMIN_WRITES = {
    ("post", "/retrofits"): TRADER,
    ("post", "/retrofits/{reference}/engagements"): TRADER,
    ("post", "/retrofits/{reference}/baseline-audit"): AGENCY_ONLY,
    ("post", "/retrofits/{reference}/post-audit"): AGENCY_ONLY,
    ("post", "/retrofits/{reference}/verification"): AGENCY_ONLY,
    ("post", "/holdings/{code}/reservations"): TRADER,
    ("post", "/holdings/{code}/releases"): TRADER,
    ("post", "/holdings/{code}/retirements"): TRADER,
    ("post", "/expansions"): TRADER,
    ("post", "/markets/{instrument}/orders"): TRADER,
    ("post", "/markets/{instrument}/bulk-orders"): TRADER,
    ("delete", "/markets/{instrument}/orders/{order_id}"): TRADER,
    ("patch", "/markets/{instrument}/orders/{order_id}"): TRADER,
    ("post", "/agreements"): TRADER,
    ("post", "/agreements/{reference}/accept"): TRADER,
    ("post", "/agreements/{reference}/withdraw"): TRADER,
    ("post", "/agreements/{reference}/decline"): TRADER,
    # inside an enterprise: its representatives only (an administrator is refused)
    ("post", "/enterprises/{code}/requests/{request_id}/confirm"): ENTERPRISE,
    ("post", "/enterprises/{code}/requests/{request_id}/reject"): ENTERPRISE,
    ("post", "/enterprises/{code}/requests/{request_id}/withdraw"): ENTERPRISE,
    ("put", "/enterprises/{code}/second-representative"): ENTERPRISE,
    ("post", "/auctions/{auction_id}/bids"): TRADER,
    ("post", "/users/me/tokens"): ANYONE,
    ("delete", "/users/me/tokens/{token_id}"): ANYONE,
    ("post", "/users/me/password"): ANYONE,
    ("post", "/users/me/second-factor"): ANYONE,
}

#: what each path parameter names: an object of the Dyeing enterprise (tested for 404 to
#: outsiders), of an agency, or something every participant may see
OWNED, AGENCY, SHARED, ADMIN = "owned", "agency", "shared", "admin"
PARAMETERS: dict[tuple[str, str], str] = {
    # (path prefix, parameter) -> meaning; the longest matching prefix wins
    ("/", "code"): OWNED,
    ("/agencies/", "code"): SHARED,  # the accredited agencies are public to participants
    ("/credit/agencies/", "code"): AGENCY,
    ("/", "instrument"): SHARED,
    ("/", "position"): OWNED,
    ("/", "year"): OWNED,
    ("/", "serial"): OWNED,
    ("/", "trade_id"): OWNED,
    ("/", "order_id"): OWNED,
    ("/", "reference"): OWNED,
    ("/auctions/", "auction_id"): SHARED,  # auctions are public; bids and receipts are not
    ("/tokens/", "token_id"): ADMIN,
    ("/sampling-rounds/", "reference"): ADMIN,  # rounds are the regulator's and auditors'
    ("/province-reports/", "year"): SHARED,  # province totals: administrators and auditors
    ("/users/me/tokens/", "token_id"): SHARED,  # one's own token: nobody else's is reachable
    ("/users/", "user_id"): ADMIN,
    ("/users/", "role"): ADMIN,
    ("/proposals/", "proposal_id"): ADMIN,
    ("/enterprises/", "request_id"): OWNED,  # a request inside the Dyeing enterprise
    ("/ledger/tile/", "path"): SHARED,  # tlog-tiles: hash tiles public, entry bundles auditors'
}
#: required query parameters
QUERY = {
    "/ledger/proof/inclusion": {"index": "0", "size": "2"},
    "/ledger/proof/consistency": {"old": "1", "new": "2"},
    "/markets/{instrument}/stream": {"limit": "1", "timeout": "0.2"},
}
#: routes on a shared object that still belong to its parties
OWNED_ROUTES = {("get", "/auctions/{auction_id}/receipt")}
#: shared reads that name enterprises by contract: an auction's seller is public
NAMES_PARTIES = {("get", "/auctions"), ("get", "/auctions/{auction_id}")}


@dataclass
class Op:
    method: str
    template: str
    params: list[dict[str, Any]]

    @property
    def key(self) -> tuple[str, str]:
        return (self.method, self.template)

    @property
    def names(self) -> list[str]:
        return [p["name"] for p in self.params if p["in"] == "path"]


@dataclass
class Market:
    """The world after a morning's trading, with every object named in a path."""

    ex: Exchange
    values: dict[str, str]  # path parameter -> the Dyeing enterprise's object
    missing: dict[str, str]  # path parameter -> an object of the same shape that does not exist
    by_prefix: dict[tuple[str, str], tuple[str, str]]  # (prefix, parameter) -> (value, missing)
    bodies: dict[tuple[str, str], dict[str, Any]]

    def token(self, role: str, subject: str) -> dict[str, str]:
        return self.ex.token(role, subject)

    def call(self, op: Op, headers: dict[str, str], *, missing: str | None = None) -> Response:
        """``op`` on the Dyeing enterprise's objects (``missing``: this one parameter names an
        object that does not exist)."""
        path = op.template
        for name in op.names:
            real, absent = self.value(op.template, name)
            path = path.replace("{" + name + "}", absent if name == missing else real)
        params = QUERY.get(op.template, {})
        body = self.bodies.get(op.key, {}) if op.method in ("post", "put", "patch") else None
        return self.ex.client.request(op.method.upper(), path, headers=headers, params=params,
                                      json=body)

    def value(self, template: str, name: str) -> tuple[str, str]:
        for (prefix, param), pair in sorted(self.by_prefix.items(), key=lambda i: -len(i[0][0])):
            if param == name and template.startswith(prefix):
                return pair
        return self.values[name], self.missing[name]


def meaning(op: Op, name: str) -> str:
    matches = [(len(prefix), what) for (prefix, param), what in PARAMETERS.items()
               if param == name and op.template.startswith(prefix)]
    assert matches, f"{op.method.upper()} {op.template}: say what {{{name}}} names in PARAMETERS"
    return max(matches)[1]


def owner_parameter(op: Op) -> str | None:
    """The path parameter naming the Dyeing enterprise's object (None: nothing owned)."""
    if op.key in OWNED_ROUTES:
        return op.names[-1]
    owned = [n for n in op.names if meaning(op, n) == OWNED]
    return owned[0] if owned else None


def seed(ex: Exchange) -> Market:
    """Over HTTP: Dyeing sells 2 t of COD and Paper takes 1 t (one trade, 1 t resting); Dyeing
    transfers 1 t to Paper, reserves 1 t, offers Paper 1 t by agreement and applies 1 t to its
    dyeing-line expansion; an auction of Dyeing's COD is cleared with Paper's winning bid."""
    w, client = ex.world, ex.client
    dyeing, paper = ex.enterprise(w.dyeing), ex.enterprise(w.paper)
    admin, other_admin = ex.token("administrator", "gdee-li"), ex.token("administrator", "gdee-wu")

    def ok(r: Response, status: int = 201) -> dict[str, Any]:
        assert r.status_code == status, r.text
        return dict(r.json())

    ok(client.post(f"/markets/{COD}/orders", headers=dyeing, json={
        "order_id": "HX-SELL-1", "side": "sell", "price": PRICE, "quantity": 2000}))
    (fill,) = ok(client.post(f"/markets/{COD}/orders", headers=paper, json={
        "side": "buy", "price": PRICE, "quantity": 1000}))["fills"]
    moved = ok(client.post(f"/holdings/{w.dyeing}/transfers", headers=admin, json={
        "instrument": COD, "buyer": w.paper, "quantity": 1000, "ref": "HX-JH-2025-01",
        "reason": "correction"}))
    ok(client.post(f"/holdings/{w.dyeing}/reservations", headers=dyeing, json={
        "instrument": COD, "quantity": 1000, "ref": "HOLD-1"}))
    offered = ok(client.post("/agreements", headers=dyeing, json={
        "reference": "AG-HX-JH-1", "instrument": COD, "buyer": w.paper, "price": PRICE,
        "quantity": 1000}), 202)  # a request, until the second representative confirms
    ok(client.post(f"/enterprises/{w.dyeing}/requests/{offered['id']}/confirm",
                   headers=ex.representative(w.dyeing)), 200)
    request = ok(client.post("/agreements", headers=dyeing, json={
        "reference": "AG-HX-JH-2", "instrument": COD, "buyer": w.paper, "price": PRICE,
        "quantity": 1000}), 202)["id"]  # left pending
    ok(client.post("/expansions", headers=dyeing, json={
        "reference": "EXP-HX-1", "instrument": COD, "quantity": 1000,
        "project": "second dyeing line, Guangming district"}))
    ok(client.post("/auctions", headers=admin, json={
        "auction_id": "AU-COD-1", "instrument": COD, "seller": w.dyeing, "volume": 2000,
        "reserve_price": PRICE, "min_bid": 1000}))
    ok(client.post("/auctions/AU-COD-1/bids", headers=paper, json={
        "price": PRICE, "quantity": 1000}))
    ok(client.post("/auctions/AU-COD-1/clear", headers=other_admin), 200)
    ok(client.post("/users/me/tokens", headers=paper, json={"days": 1}))
    holding = ok(client.get(f"/holdings/{w.dyeing}/instruments/{COD}", headers=dyeing), 200)
    serial = "-".join(holding["blocks"][0]["serials"].split("-")[:4])
    token_id = ok(client.get("/tokens", headers=admin), 200)["items"][0]["id"]
    proposal = ok(client.post(f"/cash/{w.paper}/deposits", headers=admin,
                              json={"amount": 100, "reference": "PROBE-1"}), 202)["id"]
    user_id = ok(client.get("/users/me", headers=paper), 200)["id"]
    values = {
        "code": w.dyeing, "instrument": COD, "position": str(moved["position"]),
        "year": "2025", "serial": serial, "trade_id": fill["trade"], "order_id": "HX-SELL-1",
        "auction_id": "AU-COD-1", "token_id": token_id, "proposal_id": proposal,
        "user_id": user_id, "role": "trader", "request_id": request,
    }
    missing = {
        "code": code(77), "instrument": "COD-2031-MAOZHOU", "position": "99999999",
        "year": "2031", "serial": "COD-2031-MAOZHOU-000000001",
        "trade_id": f"{COD}:99999", "order_id": "NO-SUCH-ORDER", "auction_id": "AU-NONE",
        "token_id": "0" * 16, "proposal_id": "P-" + "0" * 16, "user_id": "0" * 32,
        "role": "trader", "request_id": "R-" + "0" * 16,
    }
    by_prefix = {
        ("/retrofits/", "reference"): ("RF-COD", "RF-NONE"),
        ("/expansions/", "reference"): ("EXP-HX-1", "EXP-NONE"),
        ("/agreements/", "reference"): ("AG-HX-JH-1", "AG-NONE"),
        ("/sampling-rounds/", "reference"): ("SC-NONE", "SC-NONE"),
        ("/agencies/", "code"): (w.auditor, code(77, prefix="91440101MA9X")),
        ("/credit/agencies/", "code"): (w.auditor, code(77, prefix="91440101MA9X")),
        ("/ledger/tile/", "path"): ("0/000.p/1", "0/x999/000"),
        ("/ledger/tile/entries/", "path"): ("000.p/1", "x999/000"),
    }
    audit = {"report_sha256": sha("RF-COD/re-audit"), "amounts": {"COD": 1000}}
    order = {"side": "sell", "price": PRICE, "quantity": 1000}
    bodies = {
        ("post", "/holdings/{code}/reservations"): {
            "instrument": COD, "quantity": 1000, "ref": "GRAB-2"},
        ("patch", "/markets/{instrument}/orders/{order_id}"): {"quantity": 1000},
        ("post", "/holdings/{code}/releases"): {"instrument": COD, "ref": "HOLD-1"},
        ("post", "/holdings/{code}/retirements"): {
            "instrument": COD, "quantity": 1000, "reason": "not mine to retire"},
        ("post", "/agreements/{reference}/withdraw"): {"reason": "not my agreement"},
        ("post", "/agreements/{reference}/decline"): {"reason": "not my agreement"},
        ("post", "/enterprises/{code}/requests/{request_id}/reject"): {"reason": "not mine"},
        ("put", "/enterprises/{code}/second-representative"): {"required": False},
        # well-formed, so that a refusal made after the body is read is seen too
        ("post", "/retrofits"): {"reference": "RF-PROBE", "period": 2025, "kinds": ["COD"],
                                 "description": "boiler flue-gas retrofit"},
        ("post", "/retrofits/{reference}/engagements"): {"stage": "audit",
                                                         "agency": w.other_agency},
        ("post", "/retrofits/{reference}/baseline-audit"): audit,
        ("post", "/retrofits/{reference}/post-audit"): audit,
        ("post", "/retrofits/{reference}/verification"): {
            "report_sha256": sha("RF-COD/re-verification"), "reductions": {"COD": 1000}},
        ("post", "/expansions"): {"reference": "EXP-PROBE", "instrument": COD,
                                  "quantity": 1000, "project": "a third dyeing line"},
        ("post", "/markets/{instrument}/orders"): order,
        ("post", "/markets/{instrument}/bulk-orders"): {"items": [{"action": "order", **order}]},
        ("post", "/agreements"): {"instrument": COD, "buyer": w.paper, "price": PRICE,
                                  "quantity": 1000},
        ("post", "/auctions/{auction_id}/bids"): {"price": PRICE, "quantity": 1000},
        ("post", "/login"): {"login": "trader.nobody", "password": "not the password"},
    }
    return Market(ex, values, missing, by_prefix, bodies)


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Market]:
    folder: Path = tmp_path_factory.mktemp("route-security")
    for ex in open_exchange(folder):
        yield seed(ex)


def documented_ops() -> list[Op]:
    """Every operation of the app's OpenAPI document (building it touches no data)."""
    document = create_app({"REGISTRY_STORE": "memory"}).openapi()
    return [Op(method, template, operation.get("parameters", []))
            for template, item in document["paths"].items()
            for method, operation in item.items() if method != "parameters"]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """One test per route and rule, so a failure names its route."""
    if "op" not in metafunc.fixturenames:
        return
    chosen = [op for op in documented_ops() if SELECT[metafunc.function.__name__](op)]
    params = [pytest.param(op, id=f"{op.method.upper()} {op.template}",
                           marks=[pytest.mark.xfail(strict=True, reason=KNOWN[op.key])]
                           if op.key in KNOWN and metafunc.function.__name__ in KNOWN_IN
                           else [])
              for op in chosen]
    metafunc.parametrize("op", params)


def is_admin_write(op: Op) -> bool:
    return op.method in WRITES and op.key not in NON_ADMIN_WRITES and op.key not in PUBLIC


def outsider_may_try(op: Op) -> bool:
    """Owned by the Dyeing enterprise, and not refused to an enterprise by role first."""
    return owner_parameter(op) is not None and (
        op.method not in WRITES or "enterprise" in NON_ADMIN_WRITES.get(op.key, ()))


SELECT = {
    "test_without_a_token_only_the_public_routes_answer": lambda op: True,
    "test_expired_revoked_and_unknown_tokens_are_401": lambda op: op.key not in PUBLIC,
    "test_an_administrator_write_is_refused_to_every_other_role": is_admin_write,
    "test_other_writes_are_refused_to_the_roles_they_do_not_name":
        lambda op: op.key in NON_ADMIN_WRITES,
    "test_another_enterprise_gets_the_404_of_a_missing_object": outsider_may_try,
    "test_what_an_outsider_may_read_names_neither_party":
        lambda op: op.method == "get" and op.key not in NAMES_PARTIES | PUBLIC,
}
#: defects recorded in /work/notes/DEFECTS.md, to be fixed by the routes' owners; strict, so
#: the mark must go when the route is fixed
KNOWN: dict[tuple[str, str], str] = {}
KNOWN_IN = {"test_another_enterprise_gets_the_404_of_a_missing_object"}


def assert_problem(r: Response, status: int, op: Op) -> dict[str, Any]:
    where = f"{op.method.upper()} {op.template}"
    assert r.status_code == status, f"{where}: {r.status_code} {r.text}"
    assert r.headers["content-type"] == PROBLEM, where
    body: dict[str, Any] = r.json()
    assert body["status"] == status, where
    return body


def test_every_route_is_classified() -> None:
    ops = documented_ops()
    assert len(ops) > 80  # the whole API, not a part of it
    documented = {op.key for op in ops}
    assert documented >= PUBLIC
    assert set(NON_ADMIN_WRITES) <= documented, set(NON_ADMIN_WRITES) - documented
    assert OWNED_ROUTES | NAMES_PARTIES | set(KNOWN) <= documented
    for op in ops:
        for name in op.names:
            meaning(op, name)  # fails for a parameter nobody has given a meaning


def test_without_a_token_only_the_public_routes_answer(market: Market, op: Op) -> None:
    r = market.call(op, {})
    if op.key == ("post", "/login"):  # answers a token only to the right password
        assert_problem(r, 401, op)
        return
    if op.key in PUBLIC:
        assert r.status_code == 200, f"{op.template}: {r.text}"
        return
    assert_problem(r, 401, op)
    assert r.headers["www-authenticate"] == "Bearer"


def test_head_is_checked_like_get_or_not_offered(market: Market) -> None:
    """A HEAD on a GET route goes through the same token check, or the 405 does not offer it."""
    wrong = {}
    for op in documented_ops():
        if op.method == "get" and op.key not in PUBLIC:
            path = op.template
            for name in op.names:
                path = path.replace("{" + name + "}", market.value(op.template, name)[0])
            r = market.ex.client.head(path)
            if r.status_code != 401 and "HEAD" in r.headers.get("allow", ""):
                wrong[op.template] = (r.status_code, r.headers.get("allow"))
    assert not wrong, wrong


def test_the_document_says_which_routes_need_a_token() -> None:
    document = create_app({"REGISTRY_STORE": "memory"}).openapi()
    for template, item in document["paths"].items():
        for method, operation in item.items():
            if method != "parameters":
                needs = (method, template) not in PUBLIC
                assert bool(operation.get("security")) == needs, (method, template)


def test_without_a_token_a_malformed_body_is_401_too(market: Market) -> None:
    answers = {}
    for op in documented_ops():
        if op.method in ("post", "put", "patch") and op.key not in PUBLIC:
            path = op.template
            for name in op.names:
                path = path.replace("{" + name + "}", market.value(op.template, name)[0])
            r = market.ex.client.request(op.method.upper(), path, content=b"{not json",
                                         headers={"Content-Type": "application/json"})
            answers[op.template] = r.status_code
    assert set(answers.values()) == {401}, answers


@pytest.mark.parametrize("path", DOCS)
def test_the_documentation_is_public(market: Market, path: str) -> None:
    assert market.ex.client.get(path).status_code == 200


@pytest.fixture(scope="module")
def dead_tokens(market: Market) -> list[str]:
    """An expired token, a revoked one, a revoked one's secret altered, and a token of a
    suspended user."""
    now = datetime.now(UTC)
    registry = market.ex.registry
    retired = user_for(registry, "administrator", "gdee-retired")
    _, expired = registry.users.issue_token(user_id=retired.user_id, by=retired.user_id,
                                            at=(now - timedelta(days=31)).isoformat(), days=30)
    token_id, revoked = registry.users.issue_token(user_id=retired.user_id, by=retired.user_id,
                                                   at=now.isoformat(), days=30)
    registry.users.revoke_token(user_id=retired.user_id, token_id=token_id, by=retired.user_id,
                                at=now.isoformat())
    _, suspended = issue_in(registry, "auditor", "audit-left")
    one, _ = founders(registry, now.isoformat())
    registry.users.suspend_user(user_id=user_for(registry, "auditor", "audit-left").user_id,
                                reason="left the audit office", by=one, at=now.isoformat())
    return [expired, revoked, revoked[:-2] + "xx", suspended]


def test_expired_revoked_and_unknown_tokens_are_401(market: Market, dead_tokens: list[str],
                                                    op: Op) -> None:
    for secret in dead_tokens:
        assert_problem(market.call(op, {"Authorization": f"Bearer {secret}"}), 401, op)


def test_an_administrator_write_is_refused_to_every_other_role(market: Market, op: Op) -> None:
    w = market.ex.world
    others = {"enterprise": market.token("enterprise", w.dyeing),
              "agency": market.token("agency", w.auditor),
              "auditor": market.token("auditor", "audit-zhao")}
    before = market.ex.registry.queries.position()
    for role, headers in others.items():
        refused = assert_problem(market.call(op, headers), 403, op)
        assert refused["type"].endswith("/forbidden"), (role, refused)
        owned = owner_parameter(op)
        if owned is not None:  # the same answer whether or not the object exists
            assert market.call(op, headers, missing=owned).json() == refused
    assert market.ex.registry.queries.position() == before


def test_other_writes_are_refused_to_the_roles_they_do_not_name(market: Market, op: Op) -> None:
    """403, or the 404 an object the caller may not see gets (an agency accepting an
    agreement it cannot read), never an effect."""
    w = market.ex.world
    tokens = {"enterprise": market.token("enterprise", w.dyeing),
              "agency": market.token("agency", w.auditor),
              "auditor": market.token("auditor", "audit-zhao"),
              "administrator": market.token("administrator", "gdee-li")}
    before = market.ex.registry.queries.position()
    for role in sorted(set(tokens) - set(NON_ADMIN_WRITES[op.key])):
        r = market.call(op, tokens[role])
        if r.status_code == 404 and (owned := owner_parameter(op)) is not None:
            refused, absent = outsider_view(market, op, tokens[role], owned)
            assert refused == absent, (role, refused, absent)
            continue
        refused = assert_problem(r, 403, op)
        assert refused["type"].endswith("/forbidden"), (role, refused)
    assert market.ex.registry.queries.position() == before


def outsider_view(market: Market, op: Op, headers: dict[str, str],
                  owned: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The outsider's answers for the real object and for a missing one (its name put back),
    which must be the same."""
    refused = assert_problem(market.call(op, headers), 404, op)
    absent = assert_problem(market.call(op, headers, missing=owned), 404, op)
    real, fake = market.value(op.template, owned)
    return refused, json.loads(json.dumps(absent).replace(fake, real))


def outsider_code(market: Market, role: str) -> str:
    w = market.ex.world
    return w.power if role == "enterprise" else w.other_agency


@pytest.mark.parametrize("role", ["enterprise", "agency"])
def test_another_enterprise_gets_the_404_of_a_missing_object(market: Market, op: Op,
                                                             role: str) -> None:
    """Shenzhen Mawan Power asks for Huaxin's objects (reads and writes); so does an agency with
    no part in them (its trading writes are refused by role, or as not found)."""
    w = market.ex.world
    owner = market.token("enterprise", w.dyeing)
    outsider = market.token(role, outsider_code(market, role))
    owned = owner_parameter(op) or ""
    before = market.ex.registry.queries.position()
    if op.method == "get":
        assert market.call(op, owner).status_code == 200, "the owner reads it: it exists"
    if op.key in OWNED_ROUTES:  # the object is public, so its being there is no secret
        refused = assert_problem(market.call(op, outsider), 404, op)
        assert w.dyeing not in json.dumps(refused) and w.paper not in json.dumps(refused)
        return
    r = market.call(op, outsider)
    allowed = {404, 403} if role == "agency" and op.method in WRITES else {404}
    assert r.status_code in allowed, r.text
    refused = assert_problem(r, r.status_code, op)
    real, fake = market.value(op.template, owned)
    absent = json.loads(json.dumps(market.call(op, outsider, missing=owned).json())
                        .replace(fake, real))
    assert refused == absent
    assert market.ex.registry.queries.position() == before


def test_an_agency_sees_only_its_own_credit_record(market: Market) -> None:
    w = market.ex.world
    ops = [op for op in documented_ops() if op.method == "get"
           and any(meaning(op, n) == AGENCY for n in op.names)]
    assert ops
    mine = market.token("agency", w.auditor)
    for outsider in (market.token("agency", w.other_agency),
                     market.token("enterprise", w.power)):
        for op in ops:
            (name,) = [n for n in op.names if meaning(op, n) == AGENCY]
            assert market.call(op, mine).status_code == 200, op.template
            refused, absent = outsider_view(market, op, outsider, name)
            assert refused == absent, op.template


def test_naming_another_enterprise_as_the_account_is_404(market: Market) -> None:
    ex, w = market.ex, market.ex.world
    outsider = market.token("enterprise", w.power)
    before = ex.registry.queries.position()
    reads = [f"/trades?account={w.dyeing}", f"/markets/{COD}/orders?account={w.dyeing}"]
    for path in reads:
        r = ex.client.get(path, headers=outsider)
        assert r.status_code == 404 and r.headers["content-type"] == PROBLEM, (path, r.text)
    writes = [
        (f"/markets/{COD}/orders", {"side": "sell", "price": PRICE, "quantity": 1000,
                                    "account": w.dyeing}),
        ("/auctions/AU-COD-1/bids", {"price": PRICE, "quantity": 1000, "bidder": w.paper}),
        ("/expansions", {"reference": "EXP-GRAB", "enterprise": w.dyeing, "instrument": COD,
                         "quantity": 1000, "project": "someone else's units"}),
        ("/retrofits", {"reference": "RF-GRAB", "enterprise": w.dyeing, "period": 2025,
                        "kinds": ["COD"], "description": "someone else's retrofit"}),
        ("/agreements", {"instrument": COD, "buyer": w.power, "price": PRICE,
                         "quantity": 1000, "seller": w.dyeing}),
    ]
    for path, body in writes:
        r = ex.client.post(path, headers=outsider, json=body)
        assert r.status_code == 404 and r.headers["content-type"] == PROBLEM, (path, r.text)
    r = ex.client.delete(f"/markets/{COD}/orders/HX-SELL-1?account={w.dyeing}",
                         headers=outsider)
    assert r.status_code == 404, r.text
    assert ex.registry.queries.position() == before


@pytest.mark.parametrize("outsider", ["enterprise", "agency"])
def test_what_an_outsider_may_read_names_neither_party(market: Market, op: Op,
                                                       outsider: str) -> None:
    """Shenzhen Mawan Power, or an agency that took no part in the sellers' retrofits."""
    w = market.ex.world
    r = market.call(op, market.token(outsider, outsider_code(market, outsider)))
    if r.status_code != 200:
        assert r.status_code in (403, 404), r.text
        return
    for party in (w.dyeing, w.paper):
        assert party not in r.text, r.text[:500]


def test_every_event_names_its_actor_and_requests_name_their_user(market: Market) -> None:
    """Who did what, from the events alone: the off-exchange transfer names the administrator
    who recorded it by user id, the seller's own acts its trader, the cleared auction its
    administrator, and every event some actor."""
    registry, w = market.ex.registry, market.ex.world
    events = [e for _, e in stored_events(registry)]
    assert all(isinstance(vars(e).get("actor"), str) for e in events)
    li = registry.users.user_by_login("gdee-li").user_id
    (moved,) = [e for e in events if type(e).__name__ == "Transferred"
                and getattr(e, "ref", None) == "HX-JH-2025-01"]
    assert vars(moved)["actor"] == li
    trader = registry.users.user_by_login(f"trader.{w.dyeing.lower()}").user_id
    assert any(vars(e)["actor"] == trader for e in events)  # its orders and reservation
    wu = registry.users.user_by_login("gdee-wu").user_id
    cleared = [e for e in events if type(e).__name__.endswith("Cleared")]
    assert cleared and all(vars(e)["actor"] == wu for e in cleared)

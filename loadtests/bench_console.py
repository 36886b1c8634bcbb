"""Benchmark: the server time of every console page on the demo world.

Seeds the demo world (``registry demo``) into a temporary folder, adds a day of the
energy-use-rights market (opened, a buyer funded, 40 tce traded) and a retirement through the
HTTP API, then requests every console page and the two API viewers in-process (the ASGI app
through Starlette's test client: no network, so the time is the service's own, client
overhead included) and reports p50 / p95 / max per page against the goal p95 <= 50 ms.

Two regimes: *steady* (the log has not moved since the last request: the public view is
reused) and *after a write* (a retirement committed before each request, so the public view
is taken anew from the registry's read copies).

The signed-in pages of an enterprise (the seller's dashboard, market page, orders, receipts,
agreements, auctions, expansions, retrofits, annual report and its CSV) and of an agency
(its engagements and a filing form) are timed the same way, through a session cookie of a
console sign-in; the dashboard, orders, annual report and the agency's page also after a
write (each of them built once per log position).

    .venv/bin/python -m loadtests.bench_console [--requests 200] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from api.app import create_app
from registry.bootstrap import Registry, build_registry
from registry.demo import ADMIN, ADMIN_2, seed_demo
from registry.seed_users import founders, issue_in, user_for

GOAL_MS = 50.0
SELLER, BUYER = "91440300MAJH82LCJY", "91440900MAF3EX2XMD"
ENERGY = "ENERGY-2025-GD"
PAGES = ("/console/", "/console/lots", "/console/lots?kind=COD", "/console/retirements",
         "/console/markets", f"/console/markets/{ENERGY}", "/console/credit",
         "/console/checkpoint", "/docs", "/redoc")
AFTER_WRITE = ("/console/", "/console/lots", "/console/retirements", "/console/credit")
RETROFIT = "GDCP-2025-BENCH"
ENTERPRISE_PAGES = ("/console/enterprise", f"/console/enterprise/markets/{ENERGY}",
                    "/console/enterprise/orders", "/console/enterprise/receipts",
                    "/console/enterprise/agreements", "/console/enterprise/auctions",
                    "/console/enterprise/expansions", "/console/enterprise/retrofits",
                    "/console/enterprise/report/2025", "/console/enterprise/requests",
                    "/console/enterprise/report/2025/report.csv")
AGENCY_PAGES = ("/console/agency", f"/console/agency/retrofits/{RETROFIT}")
ROLE_AFTER_WRITE = (("enterprise", "/console/enterprise"),
                    ("enterprise", "/console/enterprise/orders"),
                    ("enterprise", "/console/enterprise/report/2025"),
                    ("agency", "/console/agency"))
PASSWORD = "a passphrase for the benchmark"  # noqa: S105 - a throw-away demo folder


def agency_code(registry: Registry) -> str:
    """The first demo agency that may audit (not barred by a credit record)."""
    from domain.errors import RegistryError

    for code in sorted(registry.catalogue().entries["agencies"]):
        try:
            registry.agency(code).check_may_audit()
        except RegistryError:  # barred by its credit record
            pass
        else:
            return code
    raise SystemExit("the demo world has no agency that may audit")


def give_passwords(registry: Registry, agency: str) -> dict[str, str]:
    """Console logins of the seller's trader and the agency's staff (password PASSWORD)."""
    at = datetime.now(UTC).isoformat()
    one, _ = founders(registry, at)
    logins = {}
    for role, code in (("enterprise", SELLER), ("agency", agency)):
        user = user_for(registry, role, code)
        registry.users.set_password(user_id=user.user_id, password=PASSWORD, by=one, at=at)
        logins[role] = user.login
    return logins


def sign_in(client: TestClient, login: str) -> None:
    import re

    form = client.get("/console/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token is not None
    r = client.post("/console/login", follow_redirects=False, data={
        "login": login, "password": PASSWORD, "totp": "", "csrf_token": token.group(1)})
    if r.status_code != 303:
        raise SystemExit(f"signing in as {login} answered {r.status_code}")
#: an administrator's signed-in pages (its session opened through the sign-in form)
#: and the auditor's pages, which administrators may read too
ADMIN_PAGES = ("/console/admin/", "/console/admin/parties", "/console/admin/controls",
               "/console/admin/markets", "/console/admin/users", "/console/tokens",
               "/console/auditor/", "/console/auditor/entries", "/console/auditor/balances",
               "/console/auditor/verify")
ADMIN_AFTER_WRITE = ("/console/admin/", "/console/admin/parties", "/console/admin/controls",
                     "/console/admin/users", "/console/auditor/", "/console/auditor/entries",
                     "/console/auditor/balances")
ADMIN_PASSWORD = "a benchmark administrator passphrase"  # noqa: S105 - a throw-away world


def tokens(registry: Registry) -> dict[str, dict[str, str]]:
    """Authorization headers of the demo world's two administrators, seller and buyer."""
    who = {"admin": ("administrator", ADMIN), "admin_2": ("administrator", ADMIN_2),
           "seller": ("enterprise", SELLER), "buyer": ("enterprise", BUYER)}
    return {name: {"Authorization": f"Bearer {issue_in(registry, role, subject, days=1)[1]}"}
            for name, (role, subject) in who.items()}


def trade(client: TestClient, headers: dict[str, dict[str, str]]) -> dict[str, str]:
    """Open the energy market and fund the buyer (each proposed by one administrator and
    approved by the other), then trade 40 tce; the seller's headers."""
    for path, body in (("/markets", {"instrument": ENERGY, "reference_price": 300_000,
                                     "sessions": []}),  # continuous: at any hour
                       (f"/cash/{BUYER}/deposits",
                        {"amount": 100_000_000, "reference": "BANK-1"})):
        r = client.post(path, json=body, headers=headers["admin"])
        r.raise_for_status()
        r = client.post(f"/proposals/{r.json()['id']}/approve", headers=headers["admin_2"])
        r.raise_for_status()
    for who, body in (("seller", {"order_id": "S-1", "side": "sell", "price": 300_000,
                                  "quantity": 100_000}),
                      ("buyer", {"order_id": "B-1", "side": "buy", "price": 301_000,
                                 "quantity": 40_000})):
        r = client.post(f"/markets/{ENERGY}/orders", json=body, headers=headers[who])
        r.raise_for_status()
    return headers["seller"]


def admin_credentials(registry: Registry) -> str:
    """Give the demo administrator a password and a second factor; its TOTP secret."""
    at = datetime.now(UTC).isoformat()
    admin = registry.users.user_by_login(ADMIN)
    registry.users.set_password(user_id=admin.user_id, password=ADMIN_PASSWORD, by=admin.user_id,
                                at=at)
    return str(registry.users.enroll_second_factor(user_id=admin.user_id, by=admin.user_id, at=at))


def admin_pages(client: TestClient, totp: str, requests: int,
                writer: dict[str, str]) -> dict[str, dict[str, float]]:
    """Sign the administrator in through the console's form, then time its pages: steady,
    and after a write (the other administrator halts or resumes the energy market before
    each request, so the page is read anew); the client's cookies are cleared afterwards
    (the public pages are timed signed out)."""
    import re

    import pyotp

    form = client.get("/console/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert csrf is not None
    r = client.post("/console/login", follow_redirects=False, data={
        "login": ADMIN, "password": ADMIN_PASSWORD, "totp": pyotp.TOTP(totp).now(),
        "csrf_token": csrf.group(1)})
    if r.status_code != 303:
        raise SystemExit(f"the administrator could not sign in: {r.status_code}")
    timings = {}
    for path in ADMIN_PAGES:
        for _ in range(5):
            timed(client, path)
        timings[path] = summary([timed(client, path) for _ in range(requests)])
    rounds = max(20, requests // 10) // 2 * 2  # even: the market ends as it began
    for path in ADMIN_AFTER_WRITE:
        samples = []
        for n in range(rounds):
            how = "halt" if n % 2 == 0 else "resume"
            r = client.post(f"/markets/{ENERGY}/{how}", headers=writer,
                            json={"reason": f"benchmark {how} {n}"})
            r.raise_for_status()
            samples.append(timed(client, path))
        timings[f"{path} (after a write)"] = summary(samples)
    client.cookies.clear()
    return timings


def retire(client: TestClient, seller: dict[str, str], n: int) -> None:
    r = client.post(f"/holdings/{SELLER}/retirements", headers=seller, json={
        "instrument": ENERGY, "quantity": 1000, "reason": f"benchmark retirement {n}"})
    r.raise_for_status()


class ServerTime:
    """ASGI wrapper: how long the app took over the last HTTP request, in ms."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.last_ms = 0.0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        await self.app(scope, receive, send)
        self.last_ms = (time.perf_counter() - start) * 1000


def timed(client: TestClient, path: str) -> float:
    r = client.get(path)
    if r.status_code != 200:
        raise SystemExit(f"{path} answered {r.status_code}: {r.text[:200]}")
    server: ServerTime = client.app  # type: ignore[assignment]
    return server.last_ms


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {"p50_ms": round(statistics.median(ordered), 2),
            "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))], 2),
            "max_ms": round(ordered[-1], 2), "requests": len(ordered)}


def run(requests: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        env = {"REGISTRY_DATA_DIR": str(folder), "REGISTRY_RATE_LIMIT": "none"}
        registry = build_registry(env)
        seed_demo(registry)
        headers = tokens(registry)
        agency = agency_code(registry)
        logins = give_passwords(registry, agency)
        totp = admin_credentials(registry)
        registry.close()
        with TestClient(ServerTime(create_app(env))) as client:
            seller = trade(client, headers)
            retire(client, seller, 0)
            steady = {}
            for path in PAGES:
                for _ in range(5):  # warm: templates compiled, read copies loaded
                    timed(client, path)
                steady[path] = summary([timed(client, path) for _ in range(requests)])
            signed_in = admin_pages(client, totp, requests, headers["admin_2"])
            after_write: dict[str, dict[str, float]] = {}
            rounds = max(20, requests // 10)
            for path in AFTER_WRITE:
                samples = []
                for n in range(rounds):
                    retire(client, seller, 1 + n + rounds * AFTER_WRITE.index(path))
                    samples.append(timed(client, path))
                after_write[path] = summary(samples)
            for path, body in (("/retrofits", {"reference": RETROFIT, "period": 2025,
                                               "kinds": ["COD", "NH3N"],
                                               "description": "benchmark retrofit"}),
                               (f"/retrofits/{RETROFIT}/engagements",
                                {"stage": "audit", "agency": agency})):
                client.post(path, json=body, headers=seller).raise_for_status()
            for role, pages in (("enterprise", ENTERPRISE_PAGES), ("agency", AGENCY_PAGES)):
                person = TestClient(client.app)  # the same app, this person's cookies
                sign_in(person, logins[role])
                for path in pages:
                    for _ in range(5):
                        timed(person, path)
                    signed_in[path] = summary([timed(person, path) for _ in range(requests)])
            people = {}
            for role in ("enterprise", "agency"):
                people[role] = TestClient(client.app)
                sign_in(people[role], logins[role])
            for n_path, (role, path) in enumerate(ROLE_AFTER_WRITE):
                samples = []
                for n in range(rounds):
                    retire(client, seller, 10_000 + n + rounds * n_path)
                    samples.append(timed(people[role], path))
                after_write[f"{path} (signed in)"] = summary(samples)
    worst = max(s["p95_ms"] for s in [*steady.values(), *after_write.values(),
                                       *signed_in.values()])
    return {"steady": steady, "after_write": after_write, "signed_in": signed_in,
            "worst_p95_ms": worst,
            "goal_p95_ms": GOAL_MS, "met": worst <= GOAL_MS,
            "date": datetime.now(UTC).isoformat(timespec="minutes"),
            "cores": os.cpu_count(), "python": platform.python_version(),
            "load_average": [round(x, 2) for x in os.getloadavg()]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="timed requests per page")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    result = run(args.requests)
    print(f"console pages, demo world, {args.requests} requests each "
          f"(load average {result['load_average']})")
    print(f"{'page':52} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for regime in ("steady", "after_write", "signed_in"):
        print(f"-- {regime.replace('_', ' ')}")
        for path, s in result[regime].items():
            print(f"{path:52} {s['p50_ms']:8.2f} {s['p95_ms']:8.2f} {s['max_ms']:8.2f}")
    verdict = "met" if result["met"] else "NOT met"
    print(f"worst p95 {result['worst_p95_ms']:.2f} ms, goal <= {GOAL_MS:.0f} ms: {verdict}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1))
    return 0 if result["met"] else 1


if __name__ == "__main__":
    sys.exit(main())

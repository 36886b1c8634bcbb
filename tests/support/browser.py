"""The set-up of the console's browser tests (used as a pytest plugin): a live ``registry serve``
of the demo world on a free loopback port, Debian's Chromium driven by Playwright (from PyPI;
never a browser build of Playwright's own), signing in through the console's form, axe-core
(vendored from npm) and screenshots in ``tests/artifacts/console/`` (git-ignored).

Fixtures: ``playwright``; ``browser``, one persistent context per module (a fresh profile, the
URL of every request it makes kept); ``page``, a tab of it with no cookies; ``chromium``, a
browser for contexts of their own (``own_context``, ``signed_in``): two people signed in at once.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from api.console import vendor
from registry.bootstrap import Registry, build_registry
from registry.demo import ADMIN, ADMIN_2, seed_demo
from registry.seed_users import founders, issue_in, user_for

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "tests" / "artifacts" / "console"
#: what this machine's closed network needs (machines/python.md): no background requests
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SELLER, BUYER = "91440300MAJH82LCJY", "91440900MAF3EX2XMD"  # demo: Shenzhen Huaxin, a buyer
PASSWORD = "a passphrase for the browser"
ENERGY = "ENERGY-2025-GD"
AXE_BLOCKING = ("serious", "critical")

#: the ``pytestmark`` of a browser test module
BROWSER_TESTS = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed "
                       "(make test installs it)"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Service:
    base: str
    folder: Path
    tokens: dict[str, str] = field(default_factory=dict)  # role -> bearer secret
    admin_totp: str = ""  # the demo administrator's TOTP secret (its password is PASSWORD)

    def call(self, method: str, path: str, body: dict[str, Any] | None = None,
             token: str | None = None) -> Any:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method,
                                         headers=headers)
        with urllib.request.urlopen(request, timeout=30) as r:
            return json.loads(r.read() or b"null")


def demo_tokens(registry: Registry) -> dict[str, str]:
    """Bearer tokens of the demo's two administrators, its seller and its buyer."""
    return {"admin": issue_in(registry, "administrator", ADMIN)[1],
            "admin_2": issue_in(registry, "administrator", ADMIN_2)[1],
            "seller": issue_in(registry, "enterprise", SELLER)[1],
            "buyer": issue_in(registry, "enterprise", BUYER)[1]}


def prepare_users(registry: Registry) -> tuple[dict[str, str], str]:
    """Before the service starts: the ``demo_tokens``; the seller's trader and the
    administrator get the password PASSWORD, the administrator a TOTP secret (returned)."""
    tokens = demo_tokens(registry)
    at = datetime.now(UTC).isoformat()
    one, _ = founders(registry, at)
    trader = user_for(registry, "enterprise", SELLER)
    registry.users.set_password(user_id=trader.user_id, password=PASSWORD, by=one, at=at)
    admin = user_for(registry, "administrator", ADMIN)
    registry.users.set_password(user_id=admin.user_id, password=PASSWORD, by=admin.user_id, at=at)
    secret = registry.users.enroll_second_factor(user_id=admin.user_id, by=admin.user_id, at=at)
    return tokens, secret


@contextmanager
def demo_registry(folder: Path) -> Iterator[Registry]:
    """The demo world seeded in ``folder``, open until the block ends (before serving it)."""
    registry = build_registry({"REGISTRY_DATA_DIR": str(folder)})
    try:
        seed_demo(registry)
        yield registry
    finally:
        registry.close()


def wait_for(base: str, proc: subprocess.Popen[bytes], seconds: float = 240) -> None:
    """The service answers /health (its warm-up over the demo world takes a while on a
    loaded machine)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(base + "/health", timeout=5) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else b""
        assert time.monotonic() < deadline, "the server did not come up"
        time.sleep(0.2)


@contextmanager
def serving(folder: Path) -> Iterator[str]:
    """``registry serve`` of ``folder`` on a free loopback port, up; its base URL."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli", "--data-dir", str(folder), "serve", "--port",
         str(port)], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(base, proc)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def open_market_and_fund_buyer(service: Service) -> None:
    """Through the API, four eyes: one administrator proposes opening the energy-use-rights
    market and depositing 1,000,000 yuan for the buyer, the other approves."""
    for path, body in (("/markets", {"instrument": ENERGY, "reference_price": 300_000,
                                     "sessions": []}),  # continuous: tests run at any hour
                       (f"/cash/{BUYER}/deposits",
                        {"amount": 100_000_000, "reference": "BANK-0001"})):
        proposal = service.call("POST", path, body, service.tokens["admin"])
        service.call("POST", f"/proposals/{proposal['id']}/approve", None,
                     service.tokens["admin_2"])


def trade_energy(service: Service) -> None:
    """A day of the energy-use-rights market, through the API: the market opened and the buyer
    funded; the seller lists 100 tce, the buyer takes 40 of them; the seller also retires
    5 tce."""
    open_market_and_fund_buyer(service)
    seller, buyer = service.tokens["seller"], service.tokens["buyer"]
    service.call("POST", f"/markets/{ENERGY}/orders",
                 {"order_id": "S-1", "side": "sell", "price": 300_000, "quantity": 100_000},
                 seller)
    fill = service.call("POST", f"/markets/{ENERGY}/orders",
                        {"order_id": "B-1", "side": "buy", "price": 301_000,
                         "quantity": 40_000}, buyer)
    assert fill["fills"][0]["state"] == "settled", fill
    service.call("POST", f"/holdings/{SELLER}/retirements",
                 {"instrument": ENERGY, "quantity": 5_000,
                  "reason": "voluntary cancellation: 2025 carbon-neutral pledge"}, seller)


@contextmanager
def trading_day(folder: Path,
                prepare: Callable[[Registry], None] = lambda registry: None) -> Iterator[Service]:
    """The demo world in ``folder`` with ``prepare_users`` (then ``prepare``) done, served,
    and a day of trading in it (``trade_energy``)."""
    with demo_registry(folder) as registry:
        tokens, admin_totp = prepare_users(registry)
        prepare(registry)
    with serving(folder) as base:
        service = Service(base=base, folder=folder, tokens=tokens, admin_totp=admin_totp)
        trade_energy(service)
        yield service


@dataclass
class Browser:
    context: Any
    requests: list[str]  # the URL of every request the context made


@pytest.fixture(scope="module")
def playwright() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    profile = tmp_path_factory.mktemp("chromium-profile")  # a fresh user-data-dir
    context = playwright.chromium.launch_persistent_context(
        str(profile), executable_path=str(CHROMIUM), headless=True, args=FLAGS,
        locale="en-US", viewport={"width": 1280, "height": 900}, accept_downloads=True)
    requests: list[str] = []
    context.on("request", lambda r: requests.append(r.url))
    try:
        yield Browser(context=context, requests=requests)
    finally:
        context.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Any]:
    browser.context.clear_cookies()
    tab = browser.context.new_page()
    try:
        yield tab
    finally:
        tab.close()


@pytest.fixture(scope="module")
def chromium(playwright: Any) -> Iterator[Any]:
    """A browser for contexts of their own (their own cookies): two people at once."""
    launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                          args=FLAGS)
    try:
        yield launched
    finally:
        launched.close()


def own_context(chromium: Any) -> Any:
    """A new browser context of ``chromium`` (its own cookies), as ``browser``'s is set up."""
    return chromium.new_context(locale="en-US", viewport={"width": 1280, "height": 900})


def sign_in(page: Any, base: str, login: str, totp: str | None = None,
            language: str = "en") -> None:
    """``login`` signs in through the console's form with PASSWORD (and a one-time code of the
    TOTP secret ``totp``), in ``language``; the account page follows."""
    from playwright.sync_api import expect

    page.goto(f"{base}/console/login?lang={language}")
    page.locator("#login").fill(login)
    page.locator("#password").fill(PASSWORD)
    if totp is not None:
        import pyotp

        page.locator("#totp").fill(pyotp.TOTP(totp).now())
    page.locator("form.login button[type=submit]").click()
    expect(page).to_have_url(base + "/console/account")


def signed_in(chromium: Any, base: str, login: str, totp: str | None = None) -> Any:
    """A page in a browser context of its own with ``login`` signed in (close its
    ``context`` when done)."""
    page = own_context(chromium).new_page()
    sign_in(page, base, login, totp)
    return page


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def axe(page: Any, exclude: str | None = None) -> list[dict[str, Any]]:
    """axe-core's violations on the page (``exclude``: a CSS selector left out)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(vendor.asset("axe-core", "axe.min.js")))
    result = page.evaluate("""async (exclude) => {
        const context = exclude ? {exclude: [exclude]} : document;
        const r = await axe.run(context, {resultTypes: ["violations"]});
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                       nodes: v.nodes.slice(0, 3).map(n => n.target)}));
    }""", exclude)
    return list(result)


def blocking_violations(page: Any, exclude: str | None = None) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page."""
    return [v for v in axe(page, exclude) if v["impact"] in AXE_BLOCKING]


def no_blocking_violation(page: Any) -> None:
    blocking = blocking_violations(page)
    assert not blocking, json.dumps(blocking, indent=1, ensure_ascii=False)


def pages_pass_axe(page: Any, base: str, pages: Mapping[str, str], language: str,
                   shot_suffix: str | None = None) -> None:
    """Each of ``pages`` (name -> path) in ``language`` has no serious or critical violation
    (all of them are visited, then every finding is reported); each is screenshot as
    ``<name><shot_suffix>`` unless the suffix is None."""
    found = {}
    for name, path in pages.items():
        page.goto(f"{base}{path}{'&' if '?' in path else '?'}lang={language}")
        blocking = blocking_violations(page)
        if blocking:
            found[path] = blocking
        if shot_suffix is not None:
            shot(page, f"{name}{shot_suffix}")
    assert not found, json.dumps(found, indent=1, ensure_ascii=False)

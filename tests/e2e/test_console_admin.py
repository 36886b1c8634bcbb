"""The administrator's console and the own-token page in a real browser (Debian's Chromium,
Playwright from PyPI) against a live ``registry serve`` of the demo world.

- the administrator's narrative: the queue, registering an enterprise, halting and resuming a
  market, freezing units and creating a user whose auditor role needs a second administrator;
- four eyes with TWO browser contexts, two administrators signed in at once: A proposes a cash
  deposit and cannot approve it, B approves it, the balance moves and the ledger's event names
  A as ``actor`` and B as ``approved_by``;
- a trader issues an API token on its page, uses it with an HTTP client, revokes it, and the
  token stops working;
- axe-core on every new page in both languages (no serious or critical violation), and
  screenshots in ``tests/artifacts/console/``.
"""

from __future__ import annotations

import base64
import json
import random
import urllib.error
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from registry.bootstrap import Registry
from registry.demo import ADMIN, ADMIN_2, credit_code
from registry.seed_users import user_for
from tests.support.browser import (
    BROWSER_TESTS,
    BUYER,
    ENERGY,
    PASSWORD,
    SELLER,
    Service,
    no_blocking_violation,
    pages_pass_axe,
    shot,
    signed_in,
    trading_day,
)

pytest_plugins = ["tests.support.browser"]  # playwright, chromium

ADMIN_PAGES = {"admin-queue": "/console/admin/", "admin-parties": "/console/admin/parties",
               "admin-controls": "/console/admin/controls",
               "admin-markets": "/console/admin/markets", "admin-users": "/console/admin/users",
               "tokens": "/console/tokens"}

pytestmark = BROWSER_TESTS


@dataclass
class Admins:
    service: Service
    totp: dict[str, str]  # login -> TOTP secret (password PASSWORD)

    def signed_in(self, chromium: Any, login: str) -> Any:
        """A page in a browser context of its own with ``login`` signed in."""
        return signed_in(chromium, self.service.base, login, self.totp.get(login))


@pytest.fixture(scope="module")
def admins(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Admins]:
    totp: dict[str, str] = {}

    def second_administrator(registry: Registry) -> None:
        at = datetime.now(UTC).isoformat()
        second = user_for(registry, "administrator", ADMIN_2)
        registry.users.set_password(user_id=second.user_id, password=PASSWORD, by=second.user_id,
                                    at=at)
        totp[ADMIN_2] = registry.users.enroll_second_factor(user_id=second.user_id,
                                                            by=second.user_id, at=at)

    with trading_day(tmp_path_factory.mktemp("console-admin-serve"),
                     second_administrator) as service:
        yield Admins(service=service, totp={ADMIN: service.admin_totp, **totp})


@pytest.fixture(scope="module")
def two(chromium: Any, admins: Admins) -> Iterator[tuple[Any, Any]]:
    """Administrators A and B, signed in at once in two browser contexts (once per module:
    a one-time code is good once)."""
    a = admins.signed_in(chromium, ADMIN)
    b = admins.signed_in(chromium, ADMIN_2)
    try:
        yield a, b
    finally:
        a.context.close()
        b.context.close()


def leaves_since(service: Service, start: int) -> list[dict[str, Any]]:
    """The ledger's leaves from ``start`` on, decoded (as an administrator reads them)."""
    token = service.tokens["admin"]
    size = service.call("GET", "/audit/position", None, token)["ledger_size"]
    found = service.call("GET", f"/ledger/entries?start={start}&limit={max(1, size - start)}",
                         None, token)
    return [json.loads(base64.b64decode(e["leaf"])) for e in found]


def holding(service: Service, code: str) -> dict[str, Any]:
    return dict(service.call("GET", f"/holdings/{code}/instruments/{ENERGY}", None,
                             service.tokens["admin"]))


def find(node: Any, **wanted: Any) -> list[dict[str, Any]]:
    """Every dict inside ``node`` holding all of ``wanted``."""
    out = []
    if isinstance(node, dict):
        if all(node.get(k) == v for k, v in wanted.items()):
            out.append(node)
        for v in node.values():
            out += find(v, **wanted)
    elif isinstance(node, list):
        for v in node:
            out += find(v, **wanted)
    return out


def proposal_row(page: Any, proposal_id: str) -> Any:
    return page.locator(f"tr[id='{proposal_id}']")


def proposal_in(page: Any) -> str:
    text = page.get_by_role("status").inner_text()
    return text.split("Proposal ")[1].rstrip(".")


def test_four_eyes_in_two_browsers_a_deposit_needs_a_second_administrator(
        admins: Admins, two: tuple[Any, Any]) -> None:
    from playwright.sync_api import expect

    service = admins.service
    a, b = two
    position = service.call("GET", "/audit/position", None, service.tokens["admin"])
    before = service.call("GET", f"/cash/{BUYER}", None, service.tokens["admin"])["balance"]
    # browser 1: administrator A proposes a deposit of 2,500.50 yuan
    a.goto(service.base + "/console/admin/parties?lang=en")
    a.get_by_label("Enterprise (credit code)", exact=True).fill(BUYER)
    a.get_by_label("Amount (CNY)").fill("2,500.50")
    a.get_by_label("Bank or payment reference").fill("BANK-4EYES-1")
    a.get_by_role("button", name="Propose the deposit").click()
    expect(a.get_by_role("status")).to_contain_text("Deposit proposed")
    proposal_id = proposal_in(a)
    # A's queue shows it as its own: no approve button, only withdraw
    a.goto(service.base + "/console/admin/?lang=en")
    row = proposal_row(a, proposal_id)
    expect(row).to_contain_text("Cash deposit")
    expect(row).to_contain_text("Your own proposal")
    expect(row).to_contain_text(ADMIN)
    expect(row.get_by_role("button", name="Approve")).to_have_count(0)
    shot(a, "admin-four-eyes-proposer")
    assert service.call("GET", f"/cash/{BUYER}", None,
                        service.tokens["admin"])["balance"] == before
    # browser 2: administrator B sees it with the buttons and approves
    b.goto(service.base + "/console/admin/?lang=en")
    row_b = proposal_row(b, proposal_id)
    expect(row_b).to_contain_text(ADMIN)  # who proposed it
    row_b.get_by_role("button", name="Approve").click()
    expect(b.get_by_role("status")).to_contain_text("Approved")
    expect(proposal_row(b, proposal_id)).to_have_count(0)
    shot(b, "admin-four-eyes-approver")
    # the effect: the balance, and the event with its actor and approver
    after = service.call("GET", f"/cash/{BUYER}", None, service.tokens["admin"])["balance"]
    assert after == before + 250_050
    ids = {u["login"]: u["id"] for u in service.call(
        "GET", "/users?limit=200", None, service.tokens["admin"])["items"]}
    deposits = [d for d in find(leaves_since(service, position["ledger_size"]),
                                reference="BANK-4EYES-1") if "actor" in d]  # not the params
    assert deposits, "the deposit's event is in the ledger"
    assert {d.get("actor") for d in deposits} == {ids[ADMIN]}
    assert {d.get("approved_by") for d in deposits} == {ids[ADMIN_2]}
    a.reload()
    expect(proposal_row(a, proposal_id)).to_have_count(0)


def test_the_administrators_narrative(admins: Admins, two: tuple[Any, Any]) -> None:
    """A registers an enterprise, halts and resumes a market, proposes a freeze that B
    approves, creates a user and proposes the auditor role for it, which B approves."""
    from playwright.sync_api import expect

    service = admins.service
    a, b = two
    # the queue first: what awaits the administrator, with its menu of pages
    a.goto(service.base + "/console/admin/?lang=en")
    expect(a.get_by_role("heading", level=1)).to_have_text("Awaiting you")
    expect(a.get_by_role("navigation", name="Your pages")).to_contain_text("Users and roles")
    # the demo's confirmed retrofit whose reduction only met the enterprise's own task: the
    # queue offers its issuance, and the registry's own check refuses it (no surplus)
    confirmations = a.locator("#confirmations + .table-wrap")
    expect(confirmations).to_contain_text("GDCP-2025-005")
    confirmations.get_by_role("button", name="Propose issuance").click()
    expect(a.get_by_role("alert")).to_contain_text("no surplus to issue")
    # register an enterprise
    new_code = credit_code(random.Random(15), "SHENZHEN")
    a.get_by_role("navigation", name="Your pages").get_by_role("link", name="Parties").click()
    a.locator("#e-code").fill(new_code)
    a.locator("#e-name").fill("Shenzhen Lianhe Printing and Dyeing Co., Ltd.")
    a.get_by_label("Sector").select_option("TEXTILE_DYEING")
    a.get_by_label("Prefecture").select_option("SHENZHEN")
    a.get_by_label("River basin").select_option("MAOZHOU")
    a.get_by_label("Discharges directly into a water body").check()
    a.get_by_role("button", name="Register the enterprise").click()
    expect(a.get_by_role("status")).to_contain_text("The enterprise is registered")
    expect(a.locator("#enterprises + .table-wrap")).to_contain_text(new_code)
    # a refusal says why, and changes nothing: the same code twice
    a.locator("#e-code").fill(new_code)
    a.locator("#e-name").fill("Again")
    a.get_by_role("button", name="Register the enterprise").click()
    expect(a.get_by_role("alert")).to_contain_text("Refused")
    # halt and resume the energy market
    a.goto(service.base + "/console/admin/markets?lang=en")
    market = a.locator(f"tr[id='{ENERGY}']")
    market.get_by_role("textbox").fill("system maintenance")
    market.get_by_role("button", name="Halt").click()
    expect(a.get_by_role("status")).to_contain_text("The market is halted")
    expect(a.locator(f"tr[id='{ENERGY}']")).to_contain_text("halted")
    shot(a, "admin-markets-halted")
    a.locator(f"tr[id='{ENERGY}']").get_by_role("textbox").fill("maintenance done")
    a.locator(f"tr[id='{ENERGY}']").get_by_role("button", name="Resume").click()
    expect(a.locator(f"tr[id='{ENERGY}']")).to_contain_text("taking orders")
    # a freeze of 10 tce of the seller's energy-use rights: A proposes, B approves
    frozen_before = holding(service, SELLER).get("frozen", 0)
    a.goto(service.base + "/console/admin/controls?lang=en")
    a.locator("#f-instrument").fill(ENERGY)
    a.get_by_label("Owner (credit code)").fill(SELLER)
    a.locator("#f-ref").fill("FREEZE-2025-015")
    a.locator("#f-reason").fill("court order pending a dispute")
    a.locator("#f-quantity").fill("10")
    a.get_by_role("button", name="Propose the freeze").click()
    expect(a.get_by_role("status")).to_contain_text("Freeze proposed")
    freeze_id = proposal_in(a)
    expect(a.locator("#pending ~ ul")).to_contain_text(freeze_id)
    assert holding(service, SELLER).get("frozen", 0) == frozen_before
    b.goto(service.base + "/console/admin/?lang=en")
    proposal_row(b, freeze_id).get_by_role("button", name="Approve").click()
    expect(b.get_by_role("status")).to_contain_text("Approved")
    assert holding(service, SELLER)["frozen"] == frozen_before + 10_000
    # users and roles: a new user, and the auditor role through a second administrator
    a.goto(service.base + "/console/admin/users?lang=en")
    a.locator("#n-login").fill("zhou.min")
    a.locator("#n-name").fill("Zhou Min")
    a.get_by_label("Organisation type").select_option("audit_body")
    a.get_by_role("button", name="Create the user").click()
    expect(a.get_by_role("status")).to_contain_text("The user is created")
    user_row = a.locator("tr[id='user-zhou.min']")
    user_row.get_by_role("combobox").select_option("auditor")
    user_row.get_by_role("button", name="Grant").click()
    expect(a.get_by_role("status")).to_contain_text("privileged role is proposed")
    grant_id = proposal_in(a)
    expect(a.locator("tr[id='user-zhou.min'] td.roles")).not_to_contain_text("auditor")
    b.goto(service.base + "/console/admin/?lang=en")
    expect(proposal_row(b, grant_id)).to_contain_text("Grant of a privileged role")
    proposal_row(b, grant_id).get_by_role("button", name="Approve").click()
    expect(b.get_by_role("status")).to_contain_text("Approved")
    a.goto(service.base + "/console/admin/users?lang=en")
    expect(a.locator("tr[id='user-zhou.min'] td.roles")).to_contain_text("auditor")


def test_a_trader_issues_uses_and_revokes_its_own_token(admins: Admins, chromium: Any) -> None:
    from playwright.sync_api import expect

    service = admins.service
    page = admins.signed_in(chromium, f"trader.{SELLER.lower()}")
    try:
        page.get_by_role("navigation", name="Your pages").get_by_role(
            "link", name="API tokens").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Your API tokens")
        page.get_by_label("Valid for (days)").fill("7")
        page.get_by_role("button", name="Issue a token").click()
        secret = page.get_by_label("Secret").input_value()
        assert secret.count(".") == 2
        no_blocking_violation(page)
        shot(page, "tokens-issued")
        me = service.call("GET", "/users/me", None, secret)
        assert me["login"] == f"trader.{SELLER.lower()}"
        # shown once: the list shows its id, never the secret again
        page.goto(service.base + "/console/tokens?lang=en")
        token_id = secret.split(".")[1]
        expect(page.locator("main")).to_contain_text(token_id)
        assert secret not in page.content()
        page.get_by_role("button", name=f"Revoke token {token_id}").click()
        expect(page.get_by_role("status")).to_contain_text(f"Token {token_id} is revoked")
        with pytest.raises(urllib.error.HTTPError) as refused:
            service.call("GET", "/users/me", None, secret)
        assert refused.value.code == 401
    finally:
        page.context.close()


@pytest.mark.parametrize("language", ["en", "zh-Hans"])
def test_every_new_page_passes_axe(admins: Admins, two: tuple[Any, Any],
                                   language: str) -> None:
    a, _ = two
    pages_pass_axe(a, admins.service.base, ADMIN_PAGES, language, f"-{language}")
    a.goto(f"{admins.service.base}/console/admin/?lang=en")  # back to English for the rest


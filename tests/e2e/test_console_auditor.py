"""The auditor's console journey in a real browser: Debian's Chromium driven by Playwright
against a live ``registry serve`` of the demo world (the set-up of
``tests/support/browser.py``).

The demo auditor signs in, reads the checkpoints over time and has the browser check the
signature and every consistency proof, pages through the ledger's entries, reads balances as
of an earlier position, and verifies a trade's receipt in the browser: the checkpoint's Ed25519
signature (WebCrypto) against the pinned key and the leaf's RFC 9162 inclusion proof (SHA-256).
A receipt whose proof or checkpoint signature was tampered with is refused by the browser, as
is a key other than the registry's. axe-core finds no serious or critical violation on any of
the pages, in either language; screenshots go to ``tests/artifacts/console/``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from registry.bootstrap import Registry
from registry.demo import DEMO_AUDITOR
from registry.seed_users import founders, user_for
from tests.support.browser import (
    BROWSER_TESTS,
    PASSWORD,
    Browser,
    Service,
    pages_pass_axe,
    shot,
    sign_in,
    trading_day,
)

pytest_plugins = ["tests.support.browser"]  # playwright, browser, page

AUDITOR_PAGES = {
    "auditor-checkpoints": "/console/auditor/", "auditor-entries": "/console/auditor/entries",
    "auditor-balances": "/console/auditor/balances?position=20",
    "auditor-verify": "/console/auditor/verify",
}

pytestmark = BROWSER_TESTS


def auditor_password(registry: Registry) -> None:
    one, _ = founders(registry, datetime.now(UTC).isoformat())
    auditor = user_for(registry, "auditor", DEMO_AUDITOR)
    registry.users.set_password(user_id=auditor.user_id, password=PASSWORD, by=one,
                                at=datetime.now(UTC).isoformat())


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """The demo world served, a day of trading in it, and the demo auditor's password set."""
    with trading_day(tmp_path_factory.mktemp("console-auditor"), auditor_password) as svc:
        yield svc


def trade_receipt(service: Service) -> dict[str, Any]:
    return dict(service.call("GET", "/trades/ENERGY-2025-GD:1/receipt",
                             token=service.tokens["buyer"]))


def trade_position(service: Service) -> int:
    return int(trade_receipt(service)["position"])


def trade_index(service: Service) -> int:
    return int(trade_receipt(service)["index"])


def test_the_auditor_verifies_the_ledger_and_a_receipt_in_the_browser(
        service: Service, browser: Browser, page: Any) -> None:
    from playwright.sync_api import expect

    page.goto(service.base + "/console/auditor/")  # a visitor is sent to sign in
    expect(page).to_have_url(service.base + "/console/login")
    sign_in(page, service.base, DEMO_AUDITOR)
    page.get_by_role("link", name="Auditor").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Checkpoints over time")
    page.get_by_role("button", name="Check in this browser").click()
    expect(page.get_by_role("status")).to_contain_text(
        "Valid: the checkpoint is signed by this key", timeout=30_000)
    heads = page.locator("#heads tbody tr")
    assert heads.count() >= 2
    expect(heads.nth(heads.count() - 1).locator(".consistency")).to_have_text("Consistent")
    shot(page, "auditor-checkpoints")
    # a root the signed tree does not extend: the browser's consistency check catches it
    page.evaluate("""() => { const row = document.querySelectorAll('#heads tbody tr')[1];
        row.dataset.root = btoa(String.fromCharCode(...new Uint8Array(32))); }""")
    page.get_by_role("button", name="Check in this browser").click()
    expect(page.get_by_role("status")).to_contain_text("Not valid: a consistency proof",
                                                       timeout=30_000)

    # the entries, paged; the trade's batch is among them
    page.get_by_role("link", name="Ledger entries").click()
    expect(page.get_by_role("table")).to_contain_text("Enterprise.Registered")
    page.get_by_role("link", name="Next page").click()
    expect(page).to_have_url(service.base + "/console/auditor/entries?page=2")
    expect(page.get_by_role("row").nth(1)).to_contain_text("50")  # index 50 heads page 2
    index = trade_index(service)
    page.goto(f"{service.base}/console/auditor/entries?page={index // 50 + 1}")
    row = page.get_by_role("row", name=f"Verify entry {index}")
    expect(row).to_contain_text("Market.BatchMatched")
    expect(row).to_contain_text("trade ENERGY-2025-GD:1")
    shot(page, "auditor-entries")

    # balances as of an early position, then now: the seller's retirement shows only now
    page.get_by_role("link", name="Balances as of a position").click()
    expect(page.get_by_role("table")).to_contain_text("5.000 tce")
    page.get_by_label("Log position").fill("1")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_role("table")).to_contain_text("Nobody held units")
    shot(page, "auditor-balances")

    # the trade's receipt, fetched and verified by the browser
    position = trade_position(service)
    page.goto(f"{service.base}/console/auditor/verify?position={position}")
    page.get_by_role("button", name="Fetch the receipt").click()
    field = page.get_by_label("Receipt (JSON)")
    expect(field).not_to_have_value("", timeout=30_000)
    verify = page.get_by_role("button", name="Verify in this browser")
    verify.click()
    expect(page.get_by_role("status")).to_contain_text(
        f"(log position {position}, BatchMatched) is in the tree", timeout=30_000)
    shot(page, "auditor-verify")
    receipt = json.loads(field.input_value())

    # a tampered proof: the browser refuses it
    hashes = receipt["proof"]["hashes"]
    assert hashes, "a one-leaf tree proves nothing; the demo has many"
    first = bytearray(base64.b64decode(hashes[0]))
    first[0] ^= 1
    tampered = {**receipt, "proof": {**receipt["proof"], "hashes": [
        base64.b64encode(bytes(first)).decode(), *hashes[1:]]}}
    field.fill(json.dumps(tampered))
    verify.click()
    expect(page.get_by_role("status")).to_contain_text("Not valid: the inclusion proof")

    # a tampered signature: the browser refuses it
    note = receipt["checkpoint"].split("\n")
    signature_line = next(i for i, line in enumerate(note) if line.startswith("— "))
    name, sig = note[signature_line][2:].split(" ")
    raw = bytearray(base64.b64decode(sig))
    raw[-1] ^= 1
    note[signature_line] = f"— {name} {base64.b64encode(bytes(raw)).decode()}"
    field.fill(json.dumps({**receipt, "checkpoint": "\n".join(note)}))
    verify.click()
    expect(page.get_by_role("status")).to_contain_text("Not valid: the checkpoint is not "
                                                       "signed by this key")

    # a receipt claiming another position than its leaf records
    field.fill(json.dumps({**receipt, "position": receipt["position"] + 1}))
    verify.click()
    expect(page.get_by_role("status")).to_contain_text("does not record what the receipt")

    # the untouched receipt again, but another key pinned: refused
    field.fill(json.dumps(receipt))
    vkey = page.get_by_label("Pinned verifier key")
    key_name, key_hash, key = vkey.input_value().strip().split("+", 2)
    vkey.fill(f"{key_name}-other+{key_hash}+{key}")
    verify.click()
    expect(page.get_by_role("status")).to_contain_text("Malformed key")
    vkey.fill(f"{key_name}+{key_hash}+{key}")
    verify.click()
    expect(page.get_by_role("status")).to_contain_text("is in the tree")


def test_other_roles_may_not_read_the_auditors_pages(service: Service, page: Any) -> None:
    from playwright.sync_api import expect

    sign_in(page, service.base, "trader.91440300majh82lcjy")
    expect(page.get_by_role("link", name="Auditor")).to_have_count(0)
    for path in AUDITOR_PAGES.values():
        answer = page.goto(service.base + path)
        assert answer is not None and answer.status == 403, path
    answer = page.goto(f"{service.base}/console/auditor/receipts/1")
    assert answer is not None and answer.status == 403
    page.context.clear_cookies()  # signed out: the receipt needs an auditor's session
    answer = page.goto(f"{service.base}/console/auditor/receipts/1")
    assert answer is not None and answer.status == 401


@pytest.mark.parametrize("language", ["en", "zh-Hans"])
def test_the_auditors_pages_pass_axe(service: Service, page: Any, language: str) -> None:
    sign_in(page, service.base, DEMO_AUDITOR, language=language)
    pages_pass_axe(page, service.base, AUDITOR_PAGES, language,
                   "-zh" if language == "zh-Hans" else None)

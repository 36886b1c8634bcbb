"""The enterprise's and the agency's journeys in a real browser: Debian's Chromium driven by
Playwright against a live ``registry serve`` of the demo world (the set-up of
``tests/support/browser.py``).

- an enterprise trader signs in, reads its dashboard, watches the market's book move live
  (server-sent events), places an order that trades against a resting one, finds it in its
  orders and trades, amends and cancels another, downloads the trade's receipt and the test
  verifies it with ``registry receipt verify``;
- an agency's staff signs in, finds the retrofit awaiting its baseline audit, chooses the
  report file, the page computes its SHA-256 in the browser and files only the digest;
- the second representative with TWO browser contexts, the seller's trader and its second
  representative signed in at once: the trader offers, the other confirms, the buyer sees
  the offer;
- axe-core on every new page in both languages (no serious or critical violation), and
  screenshots in ``tests/artifacts/console/``.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from registry.seed_users import founders, user_for
from tests.support.browser import (
    BROWSER_TESTS,
    BUYER,
    ENERGY,
    PASSWORD,
    ROOT,
    SELLER,
    Service,
    demo_registry,
    demo_tokens,
    no_blocking_violation,
    open_market_and_fund_buyer,
    pages_pass_axe,
    serving,
    shot,
    sign_in,
    signed_in,
)

pytest_plugins = ["tests.support.browser"]  # playwright, browser, page, chromium

RETROFIT = "GDCP-2025-902"  # registered by the fixture; its audit engaged to the agency
PAGES = {
    "enterprise-dashboard": "/console/enterprise",
    "enterprise-market": f"/console/enterprise/markets/{ENERGY}",
    "enterprise-orders": "/console/enterprise/orders",
    "enterprise-agreements": "/console/enterprise/agreements",
    "enterprise-auctions": "/console/enterprise/auctions",
    "enterprise-expansions": "/console/enterprise/expansions",
    "enterprise-retrofits": "/console/enterprise/retrofits",
    "enterprise-report": "/console/enterprise/report/2025",
    "enterprise-receipts": "/console/enterprise/receipts",
    "enterprise-requests": "/console/enterprise/requests",
}
AGENCY_PAGES = {"agency-home": "/console/agency",
                "agency-filing": f"/console/agency/retrofits/{RETROFIT}"}

pytestmark = BROWSER_TESTS


@dataclass
class World:
    service: Service
    agency: str  # the agency engaged for RETROFIT's audit


def may_audit(registry: Any, code: str) -> bool:
    try:
        registry.agency(code).check_may_audit()
    except Exception:  # barred by its credit record
        return False
    return True


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    folder = tmp_path_factory.mktemp("console-roles-serve")
    with demo_registry(folder) as registry:
        at = datetime.now(UTC).isoformat()
        one, _ = founders(registry, at)
        agency = next(c for c in sorted(registry.catalogue().entries["agencies"])
                      if may_audit(registry, c))
        for role, code in (("enterprise", SELLER), ("enterprise", BUYER),
                           ("representative", SELLER), ("agency", agency)):
            user = user_for(registry, role, code)
            registry.users.set_password(user_id=user.user_id, password=PASSWORD, by=one, at=at)
        tokens = demo_tokens(registry)
    with serving(folder) as base:
        svc = Service(base=base, folder=folder, tokens=tokens)
        open_market_and_fund_buyer(svc)
        svc.call("POST", "/retrofits", {"reference": RETROFIT, "period": 2025,
                                        "kinds": ["COD", "NH3N"],
                                        "description": "Second membrane bioreactor line"},
                 tokens["seller"])
        svc.call("POST", f"/retrofits/{RETROFIT}/engagements",
                 {"stage": "audit", "agency": agency}, tokens["seller"])
        yield World(service=svc, agency=agency)


def test_an_enterprise_trades_in_the_browser_to_a_verified_receipt(
        world: World, page: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    svc = world.service
    resting = svc.call("POST", f"/markets/{ENERGY}/orders",
                       {"order_id": "S-REST-1", "side": "sell", "price": 300_000,
                        "quantity": 100_000}, svc.tokens["seller"])
    assert resting["resting"] == 100_000

    sign_in(page, svc.base, f"trader.{BUYER.lower()}")
    page.get_by_role("link", name="Your enterprise's dashboard").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your enterprise")
    expect(page.get_by_role("heading", name="Cash account")).to_be_visible()
    fen = svc.call("GET", f"/cash/{BUYER}", None, svc.tokens["buyer"])["balance"]
    expect(page.locator("main")).to_contain_text(f"{fen // 100:,}.{fen % 100:02d} CNY")
    shot(page, "enterprise-dashboard")

    # the market page: the book arrives live; a new resting order shows without a reload
    page.goto(f"{svc.base}/console/enterprise/markets/{ENERGY}")
    expect(page.locator("#live-state")).to_have_text("live updates: on", timeout=15_000)
    book = page.get_by_role("table", name="Depth: the best price levels on each side, "
                                          "aggregated")
    expect(book).to_contain_text("3,000.00 CNY per tce")
    expect(page.locator("#band-hint")).to_contain_text("Today's band:")
    expect(page.locator("#lot-hint")).to_contain_text("tce")
    svc.call("POST", f"/markets/{ENERGY}/orders",
             {"order_id": "S-REST-2", "side": "sell", "price": 305_000, "quantity": 10_000},
             svc.tokens["seller"])
    expect(book).to_contain_text("3,050.00 CNY per tce", timeout=15_000)

    # buy 40 tce at up to 3,010: it trades against the resting 3,000 offer
    page.get_by_label("buy", exact=True).check()
    page.get_by_label("Limit price").fill("3010")
    page.get_by_label("Quantity (t, tce for energy)").fill("40")
    page.get_by_role("button", name="Place order").click()
    page.wait_for_url("**/console/enterprise/orders?placed=W-*")
    expect(page.get_by_role("status")).to_contain_text("placed: filled, 40.000 tce/a filled")
    trades = page.get_by_role("table", name="Your trades as buyer or seller, newest first")
    expect(trades).to_contain_text("3,000.00 CNY per tce")
    expect(trades).to_contain_text("120,000.00 CNY")
    no_blocking_violation(page)
    shot(page, "enterprise-orders")

    # a resting bid, amended and then cancelled from the orders page
    page.goto(f"{svc.base}/console/enterprise/markets/{ENERGY}")
    page.get_by_label("buy", exact=True).check()
    page.get_by_label("Limit price").fill("2950")
    page.get_by_label("Quantity (t, tce for energy)").fill("20")
    page.get_by_role("button", name="Place order").click()
    expect(page.get_by_role("status")).to_contain_text("placed: open")
    bid = page.url.rsplit("placed=", 1)[1]
    page.get_by_label("New remaining quantity").first.fill("10")
    page.get_by_role("button", name=f"Amend {bid}").click()
    got = svc.call("GET", f"/markets/{ENERGY}/orders/{bid}", None, svc.tokens["buyer"])
    assert got["resting"] == 10_000 and got["status"] == "open"
    page.get_by_role("button", name=f"Cancel {bid}").click()
    got = svc.call("GET", f"/markets/{ENERGY}/orders/{bid}", None, svc.tokens["buyer"])
    assert got["status"] == "cancelled"

    # the trade's receipt: downloaded from the page, verified offline by the registry command
    trade = svc.call("GET", f"/trades?instrument={ENERGY}", None,
                     svc.tokens["buyer"])["items"][0]["trade"]
    page.get_by_role("link", name=f"Receipt of {trade}").click()
    expect(page.locator("#verify-command")).to_contain_text(
        f"registry receipt verify receipt-{trade.replace(':', '-')}.json --vkey vkey "
        f"--subject {trade} --subject-type trade")
    no_blocking_violation(page)
    shot(page, "enterprise-receipt")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the receipt (JSON)").click()
    receipt = tmp_path / download.value.suggested_filename
    download.value.save_as(receipt)
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the verifier key").click()
    vkey = tmp_path / "vkey"
    download.value.save_as(vkey)
    done = subprocess.run(
        [sys.executable, "-m", "cli", "receipt", "verify", str(receipt), "--vkey",
         str(vkey), "--subject", trade, "--subject-type", "trade"],
        check=False, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "OK" in done.stdout, done.stdout

    # the annual report, printable, and its CSV
    page.get_by_role("navigation", name="Your pages").get_by_role(
        "link", name="Annual report").click()
    page.get_by_label("Year", exact=True).fill("2025")
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(f"{svc.base}/console/enterprise/report/2025")
    expect(page.get_by_role("table")).to_contain_text("Energy-use rights")
    expect(page.get_by_role("button", name="Print")).to_be_visible()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download as CSV").click()
    assert download.value.suggested_filename == f"report-{BUYER}-2025.csv"
    shot(page, "enterprise-report")


@pytest.mark.parametrize("language", ["en", "zh-Hans"])
def test_every_enterprise_page_passes_axe(world: World, page: Any, language: str) -> None:
    sign_in(page, world.service.base, f"trader.{SELLER.lower()}")
    pages_pass_axe(page, world.service.base, PAGES, language, f"-{language}")


def test_an_agency_files_a_report_by_its_digest_computed_in_the_browser(
        world: World, page: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    svc = world.service
    report = tmp_path / "baseline-audit-report.pdf"
    content = b"%PDF-1.7\n% baseline cleaner-production audit of " + RETROFIT.encode() + \
        b"\n" + os.urandom(4096)
    report.write_bytes(content)
    digest = hashlib.sha256(content).hexdigest()
    posted: list[bytes] = []
    page.on("request", lambda r: posted.append(r.post_data_buffer or b"")
            if r.method == "POST" else None)

    sign_in(page, svc.base, f"staff.{world.agency.lower()}")
    page.get_by_role("link", name="Your engagements").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your engagements")
    awaiting = page.get_by_role("link", name=f"Baseline audit of {RETROFIT}")
    expect(awaiting).to_be_visible()
    no_blocking_violation(page)
    shot(page, "agency-home")

    awaiting.click()
    page.get_by_label("Report file (stays on your computer)").set_input_files(str(report))
    expect(page.get_by_label("Report SHA-256")).to_have_value(digest)
    expect(page.locator("#digest-state")).to_have_text("SHA-256 computed in this browser.")
    page.get_by_label("Chemical oxygen demand (COD)").fill("420")
    page.get_by_label("Ammonia nitrogen (NH₃-N)").fill("38.5")
    no_blocking_violation(page)
    shot(page, "agency-filing")
    page.get_by_role("button", name="File the report").click()
    # the rules refuse a baseline above the level already verified after GDCP-2025-001:
    # the page says why, keeps the digest, and nothing is filed
    expect(page.get_by_role("alert")).to_contain_text("is above the level")
    expect(page.get_by_label("Report SHA-256")).to_have_value(digest)
    assert svc.call("GET", f"/retrofits/{RETROFIT}", None,
                    svc.tokens["seller"])["state"] == "registered"
    page.get_by_label("Chemical oxygen demand (COD)").fill("200")
    page.get_by_label("Ammonia nitrogen (NH₃-N)").fill("15.5")
    page.get_by_role("button", name="File the report").click()
    expect(page.get_by_role("status")).to_have_text("Your report is filed.")

    got = svc.call("GET", f"/retrofits/{RETROFIT}", None, svc.tokens["seller"])
    assert got["state"] == "baseline_audited"
    assert got["baseline_audit"] == {**got["baseline_audit"], "agency": world.agency,
                                     "report_sha256": digest,
                                     "amounts": {"COD": 200_000, "NH3N": 15_500}}
    filing = [b for b in posted if b"report_sha256" in b]
    assert len(filing) == 2 and all(digest.encode() in b for b in filing)
    assert all(content[:40] not in b and len(b) < 1000 for b in filing)  # the file stayed

    for language in ("en", "zh-Hans"):
        for name, path in AGENCY_PAGES.items():
            page.goto(f"{svc.base}{path}?lang={language}")
            no_blocking_violation(page)
            shot(page, f"{name}-{language}")


def test_a_second_representative_confirms_an_offer_in_another_browser(
        world: World, chromium: Any, page: Any) -> None:
    """Two representatives of the seller signed in at once, each in a browser context of its
    own: A offers, A's own request has no confirm button, B confirms, the buyer sees it."""
    import re

    from playwright.sync_api import expect

    svc = world.service
    a = signed_in(chromium, svc.base, f"trader.{SELLER.lower()}")
    b = signed_in(chromium, svc.base, f"rep.{SELLER.lower()}")
    try:

        a.goto(f"{svc.base}/console/enterprise/agreements")
        a.get_by_label("Instrument").fill(ENERGY)
        a.get_by_label("Buyer's unified social credit code").fill(BUYER)
        a.get_by_label("Price (CNY per t, CNY per tce for energy)").fill("2,950")
        a.get_by_label("Quantity (t, tce for energy)").fill("3")
        a.get_by_role("button", name="Offer", exact=True).click()
        status = a.get_by_role("status")
        expect(status).to_contain_text("Your offer awaits a second representative")
        found = re.search(r"R-[0-9a-f]{16}", status.inner_text())
        assert found is not None
        request_id = found.group(0)
        reference = svc.call("GET", f"/enterprises/{SELLER}/requests/{request_id}", None,
                             svc.tokens["seller"])["params"]["reference"]
        offered = svc.call("GET", "/agreements?state=offered", None, svc.tokens["buyer"])
        assert reference not in json.dumps(offered)  # not on one representative's word

        a.get_by_role("link", name="Second representative", exact=True).click()
        expect(a.locator("main")).to_contain_text(request_id)
        expect(a.locator("main")).to_contain_text("Your own request")
        expect(a.get_by_role("button", name=f"Confirm {request_id}")).to_have_count(0)

        b.goto(f"{svc.base}/console/enterprise/requests")
        row = b.get_by_role("row").filter(has_text=request_id)
        expect(row).to_contain_text(f"trader.{SELLER.lower()}")
        expect(row).to_contain_text("3.000 tce")
        no_blocking_violation(b)
        shot(b, "enterprise-requests-second-representative")
        b.get_by_role("button", name=f"Confirm {request_id}").click()
        expect(b.locator("main")).to_contain_text("Nothing awaits a second representative.")
        assert svc.call("GET", f"/agreements/{reference}", None, svc.tokens["seller"]
                        )["state"] == "offered"

        sign_in(page, svc.base, f"trader.{BUYER.lower()}")
        page.goto(f"{svc.base}/console/enterprise/agreements")
        expect(page.get_by_role("button", name=f"Accept {reference}")).to_be_visible()
        shot(page, "enterprise-agreement-offered-after-confirmation")
    finally:
        a.context.close()
        b.context.close()

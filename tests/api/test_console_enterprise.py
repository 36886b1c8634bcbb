"""The enterprise's and the agency's console pages over the demo world: each page answers its
own role only (a visitor is led to sign in, another role gets 403), every form needs the
session's CSRF token, and the pages act through the API's own authorisation: enterprise A
neither sees nor touches B's orders, trades, receipts or holdings.

The browser narratives are in ``tests/e2e/test_console_enterprise.py``."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from domain.errors import RegistryError
from registry.bootstrap import build_registry
from registry.demo import ADMIN, ADMIN_2, seed_demo
from registry.receipts import verify_receipt
from registry.seed_users import founders, issue_in, user_for

SELLER, BUYER = "91440300MAJH82LCJY", "91440900MAF3EX2XMD"  # demo: Shenzhen Huaxin, a buyer
ENERGY = "ENERGY-2025-GD"
PASSWORD = "a passphrase for the console"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
ENTERPRISE_PAGES = ("/console/enterprise", f"/console/enterprise/markets/{ENERGY}",
                    "/console/enterprise/orders", "/console/enterprise/agreements",
                    "/console/enterprise/auctions", "/console/enterprise/expansions",
                    "/console/enterprise/retrofits", "/console/enterprise/report/2025",
                    "/console/enterprise/receipts", "/console/enterprise/requests")
RETROFIT = "GDCP-2025-901"  # registered by the fixture, its audit engaged to AUDITOR


@dataclass
class World:
    app: Any
    tokens: dict[str, str]  # who -> bearer secret
    auditor: str  # the agency engaged for RETROFIT's audit
    other_agency: str  # an agency not engaged for it
    third: str  # an enterprise party to none of the fixture's trades

    def client(self) -> TestClient:
        return TestClient(self.app)

    def api(self, method: str, path: str, who: str, body: Any = None) -> Any:
        r = self.client().request(method, path, json=body,
                                  headers={"Authorization": f"Bearer {self.tokens[who]}"})
        assert r.status_code < 300, (path, r.status_code, r.text)
        return r.json()


def agency_codes(registry: Any) -> list[str]:
    """The demo's agencies that may audit (not barred by a credit record)."""
    def may_audit(code: str) -> bool:
        try:
            registry.agency(code).check_may_audit()
        except RegistryError:
            return False
        return True

    return [c for c in sorted(registry.catalogue().entries["agencies"]) if may_audit(c)]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    folder = tmp_path_factory.mktemp("console-enterprise")
    env = {"REGISTRY_DATA_DIR": str(folder), "REGISTRY_SESSION_IDLE_SECONDS": "600"}
    registry = build_registry(env)
    seed_demo(registry)
    at = datetime.now(UTC).isoformat()
    one, _ = founders(registry, at)
    agencies = agency_codes(registry)
    auditor, other = agencies[0], agencies[1]
    third = next(c for c in sorted(registry.catalogue().entries["enterprises"])
                 if c not in (SELLER, BUYER))
    for role, code in (("enterprise", SELLER), ("enterprise", BUYER), ("enterprise", third),
                       ("representative", SELLER), ("representative", third),
                       ("agency", auditor), ("agency", other)):
        user = user_for(registry, role, code)
        registry.users.set_password(user_id=user.user_id, password=PASSWORD, by=one, at=at)
    tokens = {"admin": issue_in(registry, "administrator", ADMIN)[1],
              "admin_2": issue_in(registry, "administrator", ADMIN_2)[1],
              "seller": issue_in(registry, "enterprise", SELLER)[1],
              "buyer": issue_in(registry, "enterprise", BUYER)[1]}
    registry.close()
    app = create_app(env)
    with TestClient(app):
        w = World(app=app, tokens=tokens, auditor=auditor, other_agency=other, third=third)
        for path, body in (("/markets", {"instrument": ENERGY, "reference_price": 300_000,
                                         "sessions": []}),
                           (f"/cash/{BUYER}/deposits",
                            {"amount": 100_000_000, "reference": "BANK-0001"})):
            proposal = w.api("POST", path, "admin", body)
            w.api("POST", f"/proposals/{proposal['id']}/approve", "admin_2")
        w.api("POST", "/retrofits", "seller", {
            "reference": RETROFIT, "period": 2025, "kinds": ["COD"],
            "description": "Second membrane line"})
        w.api("POST", f"/retrofits/{RETROFIT}/engagements", "seller",
              {"stage": "audit", "agency": auditor})
        yield w


def signed_in(world: World, code: str, role: str = "enterprise") -> TestClient:
    client = world.client()
    form = client.get("/console/login?lang=en")
    token = CSRF.search(form.text).group(1)  # type: ignore[union-attr]
    login = {"enterprise": "trader.", "representative": "rep."}.get(role, "staff.") + code.lower()
    r = client.post("/console/login", data={"login": login, "password": PASSWORD, "totp": "",
                                            "csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303, r.text
    return client


def csrf_of(client: TestClient, path: str) -> str:
    r = client.get(path)
    assert r.status_code == 200, (path, r.text[:300])
    return CSRF.search(r.text).group(1)  # type: ignore[union-attr]


def order(client: TestClient, side: str, price: str, quantity: str, **extra: str) -> Any:
    token = csrf_of(client, f"/console/enterprise/markets/{ENERGY}")
    return client.post(f"/console/enterprise/markets/{ENERGY}/orders",
                       data={"csrf_token": token, "side": side, "kind": "limit",
                             "price": price, "quantity": quantity, **extra},
                       follow_redirects=False)


def placed_id(r: Any) -> str:
    assert r.status_code == 303, r.text[:500]
    return str(r.headers["location"].rsplit("placed=", 1)[1])


STREAM = f"/console/enterprise/markets/{ENERGY}/stream"


@pytest.mark.parametrize("path", [*ENTERPRISE_PAGES, STREAM, "/console/agency",
                                  f"/console/agency/retrofits/{RETROFIT}"])
def test_a_visitor_is_led_to_sign_in(world: World, path: str) -> None:
    r = world.client().get(path, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/console/login"


def test_each_role_sees_its_own_pages_only(world: World) -> None:
    seller = signed_in(world, SELLER)
    for path in ENTERPRISE_PAGES:
        for lang in ("en", "zh-Hans"):
            r = seller.get(f"{path}?lang={lang}")
            assert r.status_code == 200, (path, r.text[:300])
            assert r.headers["content-type"].startswith("text/html")
    assert seller.get("/console/agency").status_code == 403
    agency = signed_in(world, world.auditor, "agency")
    assert agency.get("/console/agency").status_code == 200
    for path in (*ENTERPRISE_PAGES, STREAM):  # the live feed too: the page's, not a token's
        assert agency.get(path).status_code == 403, path


def test_the_dashboard_shows_own_holdings_with_serial_blocks_and_cash(world: World) -> None:
    page = signed_in(world, SELLER).get("/console/enterprise?lang=en").text
    assert "Shenzhen Huaxin" in page and SELLER in page
    assert "ENERGY-2025-GD-000150001-000480000" in page  # its serial block
    assert "COD-2025-MAOZHOU" in page
    assert "Cash account" in page
    buyer = signed_in(world, BUYER).get("/console/enterprise?lang=en").text
    assert "ENERGY-2025-GD-000150001" not in buyer and "Shenzhen Huaxin" not in buyer
    zh = signed_in(world, SELLER).get("/console/enterprise?lang=zh-Hans").text
    assert "资金账户" in zh and "序列号" in zh


def test_a_form_without_the_sessions_csrf_token_does_nothing(world: World) -> None:
    seller = signed_in(world, SELLER)
    before = world.api("GET", f"/markets/{ENERGY}/orders", "seller")["total"]
    for token in (None, "forged"):
        data = {"side": "sell", "price": "3000", "quantity": "10"}
        if token:
            data["csrf_token"] = token
        r = seller.post(f"/console/enterprise/markets/{ENERGY}/orders", data=data,
                        follow_redirects=False)
        assert r.status_code == 403
    other = signed_in(world, BUYER)  # another session's token is not this one's
    r = seller.post(f"/console/enterprise/markets/{ENERGY}/orders",
                    data={"csrf_token": csrf_of(other, "/console/enterprise"), "side": "sell",
                          "price": "3000", "quantity": "10"}, follow_redirects=False)
    assert r.status_code == 403
    assert world.api("GET", f"/markets/{ENERGY}/orders", "seller")["total"] == before


def test_an_order_trades_against_a_resting_one_and_its_receipt_verifies(world: World) -> None:
    seller, buyer = signed_in(world, SELLER), signed_in(world, BUYER)
    resting = placed_id(order(seller, "sell", "3,000.00", "20"))
    taken = placed_id(order(buyer, "buy", "3010", "20.000"))
    mine = buyer.get(f"/console/enterprise/orders?placed={taken}&lang=en").text
    assert f"Order {taken} placed: filled" in mine
    trades = world.api("GET", f"/trades?instrument={ENERGY}", "buyer")["items"]
    trade = trades[0]["trade"]
    assert trades[0]["quantity"] == 20_000 and trades[0]["price"] == 300_000
    assert trade in mine
    assert resting not in mine  # the seller's order is not the buyer's to see
    r = buyer.get(f"/console/enterprise/trades/{trade}/receipt.json")
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    vkey = world.client().get("/ledger/vkey").text.strip()
    verified = verify_receipt(r.json(), vkey=vkey, subject=trade, subject_type="trade")
    assert verified is not None
    page = buyer.get(f"/console/enterprise/receipts?trade={trade}").text
    assert f"registry receipt verify receipt-{trade.replace(':', '-')}.json" in page


def test_amend_and_cancel_act_on_own_orders_only(world: World) -> None:
    seller, buyer = signed_in(world, SELLER), signed_in(world, BUYER)
    mine = placed_id(order(seller, "sell", "3050", "30"))
    token = csrf_of(seller, "/console/enterprise/orders")
    r = seller.post(f"/console/enterprise/markets/{ENERGY}/orders/{mine}/amend",
                    data={"csrf_token": token, "quantity": "10", "price": ""},
                    follow_redirects=False)
    assert r.status_code == 303
    got = world.api("GET", f"/markets/{ENERGY}/orders/{mine}", "seller")
    assert got["resting"] == 10_000 and got["status"] == "open"

    # the buyer's session names the seller's order: refused as unknown, nothing changes
    their = csrf_of(buyer, "/console/enterprise/orders")
    for act, data in (("cancel", {}), ("amend", {"quantity": "1"})):
        r = buyer.post(f"/console/enterprise/markets/{ENERGY}/orders/{mine}/{act}",
                       data={"csrf_token": their, **data}, follow_redirects=False)
        assert r.status_code == 404, r.text[:300]
        assert "did not do this" in r.text or "没有" in r.text or "未执行" in r.text
    assert world.api("GET", f"/markets/{ENERGY}/orders/{mine}", "seller")["resting"] == 10_000
    assert mine not in buyer.get("/console/enterprise/orders").text
    assert mine not in buyer.get(f"/console/enterprise/markets/{ENERGY}").text

    r = seller.post(f"/console/enterprise/markets/{ENERGY}/orders/{mine}/cancel",
                    data={"csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303
    assert world.api("GET", f"/markets/{ENERGY}/orders/{mine}", "seller")["status"] == \
        "cancelled"


def test_an_enterprise_cannot_take_anothers_receipt(world: World) -> None:
    seller, buyer = signed_in(world, SELLER), signed_in(world, BUYER)
    placed_id(order(seller, "sell", "3000", "5"))
    placed_id(order(buyer, "buy", "3000", "5"))
    trade = world.api("GET", f"/trades?instrument={ENERGY}", "buyer")["items"][0]["trade"]
    third = signed_in(world, world.third)
    # a trade of the two is theirs and nobody else's; a made-up one is nobody's
    assert seller.get(f"/console/enterprise/trades/{trade}/receipt.json").status_code == 200
    assert third.get(f"/console/enterprise/trades/{trade}/receipt.json").status_code == 404
    assert trade not in third.get("/console/enterprise/orders").text
    assert trade not in third.get("/console/enterprise/receipts").text
    assert SELLER not in third.get("/console/enterprise").text
    assert buyer.get(f"/console/enterprise/trades/{ENERGY}:999999/receipt.json"
                     ).status_code == 404


def test_a_refused_order_is_shown_on_the_page_and_stores_nothing(world: World) -> None:
    seller = signed_in(world, SELLER)
    before = world.api("GET", f"/markets/{ENERGY}/orders", "seller")["total"]
    for price, quantity in (("99999", "10"), ("3000", "0.0001"), ("abc", "10")):
        r = order(seller, "sell", price, quantity)
        assert r.status_code in (409, 422), (price, quantity, r.status_code)
        assert 'role="alert"' in r.text
    assert world.api("GET", f"/markets/{ENERGY}/orders", "seller")["total"] == before


def test_the_annual_report_as_a_page_and_as_csv(world: World) -> None:
    seller = signed_in(world, SELLER)
    page = seller.get("/console/enterprise/report/2025?lang=en").text
    assert "Verified reduction" in page
    r = seller.get("/console/enterprise/report/2025/report.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    api = world.client().get(f"/reports/{SELLER}/2025?format=csv",
                             headers={"Authorization": f"Bearer {world.tokens['seller']}"})
    assert r.text == api.text and rows
    assert seller.get("/console/enterprise/report?year=2024",
                      follow_redirects=False).headers["location"] == \
        "/console/enterprise/report/2024"


def test_the_agency_files_a_digest_only_and_only_where_engaged(world: World,
                                                               tmp_path: Path) -> None:
    other = signed_in(world, world.other_agency, "agency")
    assert other.get(f"/console/agency/retrofits/{RETROFIT}").status_code == 404
    agency = signed_in(world, world.auditor, "agency")
    home = agency.get("/console/agency?lang=en").text
    assert RETROFIT in home and "Baseline audit" in home
    digest = "ab" * 32
    token = csrf_of(agency, f"/console/agency/retrofits/{RETROFIT}")
    r = other.post(f"/console/agency/retrofits/{RETROFIT}",
                   data={"csrf_token": csrf_of(other, "/console/agency"),
                         "report_sha256": digest, "amount_COD": "12.5"},
                   follow_redirects=False)
    assert r.status_code == 404
    r = agency.post(f"/console/agency/retrofits/{RETROFIT}",
                    data={"report_sha256": digest, "amount_COD": "12.5"},
                    follow_redirects=False)
    assert r.status_code == 403  # no CSRF token
    r = agency.post(f"/console/agency/retrofits/{RETROFIT}",
                    data={"csrf_token": token, "report_sha256": "not a digest",
                          "amount_COD": "12.5"}, follow_redirects=False)
    assert r.status_code == 422 and 'role="alert"' in r.text
    r = agency.post(f"/console/agency/retrofits/{RETROFIT}",
                    data={"csrf_token": token, "report_sha256": digest,
                          "amount_COD": "12.5"}, follow_redirects=False)
    assert r.status_code == 303
    got = world.api("GET", f"/retrofits/{RETROFIT}", "seller")
    assert got["state"] == "baseline_audited"
    assert got["baseline_audit"]["report_sha256"] == digest
    assert got["baseline_audit"]["amounts"] == {"COD": 12_500}
    assert got["baseline_audit"]["agency"] == world.auditor
    assert json.dumps(got).count(digest) == 1


def test_the_dashboard_follows_every_write(world: World) -> None:
    """The dashboard is built once per log position: the next write shows at once."""
    seller = signed_in(world, SELLER)

    def open_orders() -> int:
        text = seller.get("/console/enterprise?lang=en").text
        return int(re.search(r"Open orders: (\d+)", text).group(1))  # type: ignore[union-attr]

    before = open_orders()
    assert open_orders() == before  # the same position: the same page
    placed = placed_id(order(seller, "sell", "3200", "1"))
    assert open_orders() == before + 1
    token = csrf_of(seller, "/console/enterprise/orders")
    seller.post(f"/console/enterprise/markets/{ENERGY}/orders/{placed}/cancel",
                data={"csrf_token": token}, follow_redirects=False)
    assert open_orders() == before


def pending_requests(world: World, code: str) -> list[dict[str, Any]]:
    items = world.api("GET", f"/enterprises/{code}/requests?state=pending", "seller")["items"]
    return list(items)


def test_an_agreement_offered_and_accepted_through_the_console(world: World) -> None:
    seller, buyer, third = (signed_in(world, c) for c in (SELLER, BUYER, world.third))
    second = signed_in(world, SELLER, "representative")
    r = seller.post("/console/enterprise/agreements", follow_redirects=False, data={
        "csrf_token": csrf_of(seller, "/console/enterprise/agreements"),
        "instrument": ENERGY, "buyer": BUYER, "price": "2,900.50", "quantity": "5"})
    assert r.status_code == 303, r.text[:300]
    request_id = r.headers["location"].rsplit("requested=", 1)[1]
    assert [p["id"] for p in pending_requests(world, SELLER)] == [request_id]
    page = seller.get(r.headers["location"] + "&lang=en").text
    assert f"Your offer awaits a second representative of your enterprise: request {request_id}" \
        in page
    assert not [a for a in world.api("GET", "/agreements?state=offered", "buyer")["items"]
                if a["seller"] == SELLER]  # nothing is offered on one representative's word
    # the requester sees no confirm button on its own request, and is refused anyway
    own = seller.get("/console/enterprise/requests?lang=en").text
    assert request_id in own and "Your own request" in own
    assert f'/requests/{request_id}/confirm"' not in own
    assert "Requests awaiting a second representative: 1" in seller.get(
        "/console/enterprise?lang=en").text
    r = seller.post(f"/console/enterprise/requests/{request_id}/confirm?lang=en",
                    data={"csrf_token": csrf_of(seller, "/console/enterprise/requests")})
    assert r.status_code == 403 and "The registry did not do this:" in r.text
    # another enterprise's representative: not its request, as unknown
    other = signed_in(world, world.third, "representative")
    r = other.post(f"/console/enterprise/requests/{request_id}/confirm",
                   data={"csrf_token": csrf_of(other, "/console/enterprise/requests")})
    assert r.status_code == 404 and request_id not in other.get(
        "/console/enterprise/requests").text
    # without the session's CSRF token nothing is done
    r = second.post(f"/console/enterprise/requests/{request_id}/confirm",
                    data={"csrf_token": "forged"}, follow_redirects=False)
    assert r.status_code == 403
    assert [p["id"] for p in pending_requests(world, SELLER)] == [request_id]
    page = second.get("/console/enterprise/requests?lang=en").text
    assert f'/requests/{request_id}/confirm"' in page
    r = second.post(f"/console/enterprise/requests/{request_id}/confirm", follow_redirects=False,
                    data={"csrf_token": csrf_of(second, "/console/enterprise/requests")})
    assert r.status_code == 303, r.text[:500]
    assert pending_requests(world, SELLER) == []
    offered = [a for a in world.api("GET", "/agreements?state=offered", "buyer")["items"]
               if a["seller"] == SELLER and a["quantity"] == 5_000]
    assert offered and offered[0]["price"] == 290_050
    reference = offered[0]["reference"]
    assert "Agreements offered to you, to accept or decline: 1" in buyer.get(
        "/console/enterprise?lang=en").text
    assert reference not in third.get("/console/enterprise/agreements").text
    r = third.post(f"/console/enterprise/agreements/{reference}/accept",
                   data={"csrf_token": csrf_of(third, "/console/enterprise/agreements")},
                   follow_redirects=False)
    assert r.status_code == 404  # not its agreement: as unknown, nothing done
    r = buyer.post(f"/console/enterprise/agreements/{reference}/accept",
                   data={"csrf_token": csrf_of(buyer, "/console/enterprise/agreements")},
                   follow_redirects=False)
    assert r.status_code == 303
    assert world.api("GET", f"/agreements/{reference}", "seller")["state"] == "accepted"


def test_a_sealed_bid_through_the_console(world: World) -> None:
    opened = world.api("POST", "/auctions", "admin", {
        "instrument": ENERGY, "seller": SELLER, "volume": 50_000, "reserve_price": 250_000,
        "min_bid": 1_000})
    auction = opened["auction_id"]
    buyer = signed_in(world, BUYER)
    page = buyer.get("/console/enterprise/auctions?lang=en").text
    assert auction in page and "Place a sealed bid" in page
    r = buyer.post(f"/console/enterprise/auctions/{auction}/bids", follow_redirects=False,
                   data={"csrf_token": csrf_of(buyer, "/console/enterprise/auctions"),
                         "price": "2600", "quantity": "10"})
    assert r.status_code == 303, r.text[:300]
    bids = world.api("GET", f"/auctions/{auction}/bids", "buyer")["items"]
    assert [(b["price"], b["quantity"]) for b in bids] == [(260_000, 10_000)]
    assert "Your bid" in buyer.get("/console/enterprise/auctions?lang=en").text
    third = signed_in(world, world.third)
    assert "Your bid" not in third.get("/console/enterprise/auctions?lang=en").text


def test_a_settled_agreements_receipt_verifies(world: World) -> None:
    seller = signed_in(world, SELLER)
    settled = world.api("GET", "/agreements?state=settled", "seller")["items"]
    assert settled  # the demo world's negotiated transfers
    reference = settled[0]["reference"]
    assert f"--subject {reference} --subject-type agreement" in seller.get(
        "/console/enterprise/receipts").text
    r = seller.get(f"/console/enterprise/agreements/{reference}/receipt.json")
    assert r.status_code == 200
    vkey = world.client().get("/ledger/vkey").text.strip()
    assert verify_receipt(r.json(), vkey=vkey, subject=reference, subject_type="agreement")
    third = signed_in(world, world.third)
    assert third.get(f"/console/enterprise/agreements/{reference}/receipt.json"
                     ).status_code == 404


def test_switching_the_second_representative_off_is_itself_a_request(world: World) -> None:
    seller, second = signed_in(world, SELLER), signed_in(world, SELLER, "representative")
    page = seller.get("/console/enterprise/requests?lang=en").text
    assert "Required: an agreement out of the account" in page
    r = seller.post("/console/enterprise/second-representative", follow_redirects=False,
                    data={"csrf_token": csrf_of(seller, "/console/enterprise/requests"),
                          "required": "off"})
    assert r.status_code == 303, r.text[:500]
    (withdrawn,) = pending_requests(world, SELLER)
    assert withdrawn["action"] == "set_second_representative"
    assert "No longer require a second representative" in seller.get(
        "/console/enterprise/requests?lang=en").text
    # the other representative may not withdraw it; the requester does
    token = csrf_of(second, "/console/enterprise/requests")
    r = second.post(f"/console/enterprise/requests/{withdrawn['id']}/withdraw",
                    data={"csrf_token": token})
    assert r.status_code == 403, r.text[:300]
    r = seller.post(f"/console/enterprise/requests/{withdrawn['id']}/withdraw",
                    data={"csrf_token": csrf_of(seller, "/console/enterprise/requests")},
                    follow_redirects=False)
    assert r.status_code == 303 and pending_requests(world, SELLER) == []
    # asked again, the other representative rejects it: the requirement stays
    seller.post("/console/enterprise/second-representative", follow_redirects=False,
                data={"csrf_token": csrf_of(seller, "/console/enterprise/requests"),
                      "required": "off"})
    (rejected,) = pending_requests(world, SELLER)
    r = second.post(f"/console/enterprise/requests/{rejected['id']}/reject",
                    follow_redirects=False,
                    data={"csrf_token": csrf_of(second, "/console/enterprise/requests"),
                          "reason": "we keep four eyes"})
    assert r.status_code == 303, r.text[:500]
    assert pending_requests(world, SELLER) == []
    assert world.api("GET", f"/enterprises/{SELLER}/second-representative",
                     "seller")["required"] is True
    page = seller.get("/console/enterprise/requests?lang=en").text
    assert "Requests decided" in page and "rejected" in page


def test_signed_in_pages_do_not_say_they_need_no_login(world: World) -> None:
    public = world.client().get("/console/?lang=en").text
    assert "Open to the public without a login." in public
    seller = signed_in(world, SELLER)
    assert "Open to the public without a login." not in seller.get("/console/?lang=en").text

"""Every recorded action's response says where it sits in the ledger (``ledger``: position,
ledger index, event, typed subject, receipt URL), read from the app's own OpenAPI document: a
write route added later without it fails here unless it is listed below with its reason.

Then the references are followed: an order that trades names each fill's trade leaf and the
batch leaf of its own acceptance; a proposal names its leaf, and its approval the proposal's
``Approved`` leaf plus the leaves of the act it took effect with (a deposit); each receipt URL
answers a receipt that verifies with the ledger's verifier key alone, for exactly that subject.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from registry import receipts
from tests.support.exchange_world import COD, PRICE, Exchange, open_exchange

WRITES = {"post", "put", "patch", "delete"}

#: writes that record no ledger event: credentials and sessions live outside the event log
NOT_RECORDED = {
    ("post", "/tokens"): "an API token is a credential (tokens database), not a registry event",
    ("delete", "/tokens/{token_id}"): "revoking a credential (tokens database)",
    ("post", "/login"): "a session token (tokens database)",
    ("post", "/users/me/tokens"): "an API token is a credential (tokens database)",
    ("delete", "/users/me/tokens/{token_id}"): "revoking a credential (tokens database)",
    ("post", "/users/me/password"): "a password hash is never a ledger leaf (204, no body)",
    ("post", "/users/me/second-factor"): "a TOTP secret is never a ledger leaf",
    ("post", "/bench/echo"): "the benchmark's echo stores nothing of the registry",
}

@pytest.fixture
def ex(tmp_path: Path) -> Iterator[Exchange]:
    yield from open_exchange(tmp_path)


def _carries_ledger(schema: dict[str, Any], components: dict[str, Any],
                    seen: frozenset[str] = frozenset()) -> bool:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        return name not in seen and _carries_ledger(components[name], components, seen | {name})
    if "ledger" in schema.get("properties", {}):
        return True
    return all(_carries_ledger(s, components, seen) for s in schema.get("anyOf", [])
               if s.get("type") != "null") and bool(schema.get("anyOf"))


def _write_responses(doc: dict[str, Any]) -> Iterator[tuple[str, str, str, dict[str, Any]]]:
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            if method not in WRITES:
                continue
            for code, response in op["responses"].items():
                if code.startswith("2"):
                    schema = response.get("content", {}).get("application/json", {})
                    yield method, path, code, schema.get("schema", {})


def test_every_recorded_write_answers_its_ledger_reference(ex: Exchange) -> None:
    doc = ex.client.get("/openapi.json").json()
    components = doc["components"]["schemas"]
    missing = []
    for method, path, code, schema in _write_responses(doc):
        key = (method, path)
        carries = _carries_ledger(schema, components)
        if key in NOT_RECORDED:
            continue
        if not carries:
            missing.append(f"{method} {path} {code}")
    assert not missing, f"recorded writes without a ledger reference: {missing}"
    # the lists name real routes only (a renamed route must leave them)
    routes = {(m, p) for m, p, _, _ in _write_responses(doc)}
    assert set(NOT_RECORDED) - routes <= {("post", "/bench/echo")}  # mounted for load tests
    ledger_ref = components["LedgerRef"]["properties"]
    assert {"position", "ledger_index", "event", "subject_type", "subject",
            "receipt"} <= set(ledger_ref)


def _verified(ex: Exchange, ref: dict[str, Any], headers: dict[str, str]) -> Any:
    r = ex.client.get(ref["receipt"], headers=headers)
    assert r.status_code == 200, r.text
    receipt = r.json()
    assert (receipt["position"], receipt["index"]) == (ref["position"], ref["ledger_index"])
    vkey = ex.client.get("/ledger/vkey").text.strip()
    return receipts.verify_receipt(receipt, vkey=vkey, subject=ref["subject"],
                                   subject_type=ref["subject_type"], event=ref["event"])


def test_an_order_that_trades_names_each_fill_and_its_own_batch(ex: Exchange) -> None:
    seller, buyer = ex.enterprise(ex.world.dyeing), ex.enterprise(ex.world.paper)
    r = ex.client.post(f"/markets/{COD}/orders", headers=seller,
                       json={"side": "sell", "price": PRICE, "quantity": 2000})
    assert r.status_code == 201, r.text
    resting = r.json()
    assert resting["fills"] == [] and resting["ledger"]["event"] == "BatchMatched"
    assert (resting["ledger"]["subject_type"], resting["ledger"]["subject"]) == ("market", COD)
    r = ex.client.post(f"/markets/{COD}/orders", headers=buyer,
                       json={"side": "buy", "price": PRICE, "quantity": 1000})
    assert r.status_code == 201, r.text
    ack = r.json()
    (fill,) = ack["fills"]
    ref = fill["ledger"]
    assert (ref["subject_type"], ref["subject"], ref["event"]) == ("trade", fill["trade"],
                                                                  "BatchMatched")
    assert ref["receipt"] == f"/trades/{fill['trade']}/receipt"
    assert ack["ledger"]["position"] == ref["position"]  # one batch recorded both
    assert ack["ledger"]["position"] > resting["ledger"]["position"]
    for who in (buyer, seller):  # both parties verify their trade's receipt
        checked = _verified(ex, ref, who)
        assert checked.disclosed["trades/0"][0] == fill["trade"]
    # the batch leaf of an order's acceptance: administrators and auditors read its receipt
    checked = _verified(ex, ack["ledger"], ex.token("auditor", "li.wei"))
    assert checked.subject == COD and checked.disclosed == {}
    r = ex.client.delete(f"/markets/{COD}/orders/{resting['order_id']}", headers=seller)
    assert r.status_code == 200, r.text
    cancelled = r.json()["ledger"]
    assert cancelled["position"] > ack["ledger"]["position"]
    assert _verified(ex, cancelled, ex.token("auditor", "li.wei")).event == "BatchMatched"


def test_a_proposal_and_its_approval_name_their_leaves_and_the_acts(ex: Exchange) -> None:
    admin = ex.token("administrator", "wang.fang")
    r = ex.client.post(f"/cash/{ex.world.paper}/deposits", headers=admin,
                       json={"amount": 5_000_00, "reference": "ICBC-2025-0042"})
    assert r.status_code == 202, r.text
    proposal = r.json()
    assert (proposal["ledger"]["event"], proposal["ledger"]["subject"]) == ("Proposed",
                                                                             proposal["id"])
    assert _verified(ex, proposal["ledger"], admin).event == "Proposed"
    r = ex.approve(r)
    assert r.status_code == 200, r.text
    approved = r.json()
    assert (approved["ledger"]["event"], approved["ledger"]["subject_type"]) == ("Approved",
                                                                                  "proposal")
    (deposit,) = approved["effects"]
    assert (deposit["event"], deposit["subject_type"], deposit["subject"]) == (
        "Deposited", "deposit", "ICBC-2025-0042")
    assert deposit["position"] < approved["ledger"]["position"]  # one save, the act first
    assert _verified(ex, deposit, admin).subject == "ICBC-2025-0042"
    assert _verified(ex, approved["ledger"], admin).event == "Approved"
    r = ex.client.post(f"/cash/{ex.world.paper}/withdrawals", headers=admin,
                       json={"amount": 100, "reference": "ICBC-2025-0043"})
    r = ex.client.post(f"/proposals/{r.json()['id']}/reject", headers=ex.token(
        "administrator", "approver.two"), json={"reason": "no such instruction"})
    assert r.status_code == 200, r.text
    assert r.json()["ledger"]["event"] == "Rejected"


def test_a_trade_decision_names_its_leaf(tmp_path: Path) -> None:
    """A trade above the threshold waits; its approval answers the TradeApproved leaf."""
    for ex in open_exchange(tmp_path, verify_above=1_000_000):
        seller, buyer = ex.enterprise(ex.world.dyeing), ex.enterprise(ex.world.paper)
        ex.client.post(f"/markets/{COD}/orders", headers=seller,
                       json={"side": "sell", "price": PRICE, "quantity": 2000})
        r = ex.client.post(f"/markets/{COD}/orders", headers=buyer,
                           json={"side": "buy", "price": PRICE, "quantity": 2000})
        (fill,) = r.json()["fills"]
        assert fill["state"] == "pending" and fill["ledger"]["event"] == "BatchMatched"
        r = ex.client.post(f"/trades/queue/{fill['trade']}/approve",
                           headers=ex.token("administrator", "chen.jie"))
        assert r.status_code == 200, r.text
        ref = r.json()["ledger"]
        assert (ref["event"], ref["subject"]) == ("TradeApproved", fill["trade"])
        assert ref["position"] > fill["ledger"]["position"]
        assert _verified(ex, ref, buyer).event == "TradeApproved"


def test_registering_a_retrofit_names_its_leaf(ex: Exchange) -> None:
    paper = ex.enterprise(ex.world.paper)
    r = ex.client.post("/retrofits", headers=paper, json={
        "reference": "RF-LEDGER-1", "period": 2025, "kinds": ["COD"],
        "description": "membrane bioreactor"})
    assert r.status_code == 201, r.text
    ref = r.json()["ledger"]
    assert (ref["event"], ref["subject_type"], ref["subject"]) == ("Registered", "retrofit",
                                                                   "RF-LEDGER-1")
    assert _verified(ex, ref, paper).subject == "RF-LEDGER-1"  # the enterprise reads its own

"""Every recorded action's response says where it sits in the ledger (``ledger``: position,
ledger index, event, typed subject, receipt URL), read from the app's own OpenAPI document: a
write route added later without it fails here unless it is listed below with its reason.

Then the references are followed: an order that trades names each fill's trade leaf and the
batch leaf of its own acceptance; a proposal names its leaf, and its approval the proposal's
``Approved`` leaf plus the leaves of the act it took effect with (a deposit), as a second
representative's confirmation does; a user's creation and role changes, a right's confirmation
and a sampling round's opening and draw name theirs. Each receipt URL answers a receipt that
verifies with the ledger's verifier key alone, for exactly that subject.
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


def test_creating_a_user_and_changing_its_roles_name_their_leaves(ex: Exchange) -> None:
    admin = ex.token("administrator", "wang.fang")
    r = ex.client.post("/users", headers=admin, json={
        "login": "ledger.user", "display_name": "Ledger User", "organisation": "enterprise",
        "organisation_code": ex.world.paper, "roles": ["trader"],
        "password": "a-long-enough-password"})
    assert r.status_code == 201, r.text
    user = r.json()
    created = user["ledger"]
    assert (created["event"], created["subject_type"]) == ("Registered", "user")
    assert _verified(ex, created, admin).event == "Registered"
    r = ex.client.post(f"/users/{user['id']}/roles", headers=admin,
                       json={"role": "representative"})
    assert r.status_code == 201, r.text
    granted = r.json()["ledger"]
    assert (granted["event"], granted["subject"]) == ("RoleGranted", created["subject"])
    assert granted["position"] > created["position"]
    r = ex.client.post(f"/users/{user['id']}/suspension", headers=admin, json={"reason": "left"})
    assert r.status_code == 200, r.text
    assert _verified(ex, r.json()["ledger"], admin).event == "Suspended"
    r = ex.client.post(f"/users/{user['id']}/roles", headers=admin, json={"role": "auditor"})
    assert r.status_code == 202, r.text  # a privileged role: the proposal's leaf
    assert r.json()["ledger"]["event"] == "Proposed"


def test_a_sampling_round_names_its_opening_and_draw(ex: Exchange) -> None:
    admin = ex.token("administrator", "wang.fang")
    r = ex.client.post("/sampling-rounds", headers=admin,
                       json={"reference": "SC-LEDGER", "period": 2025})
    assert r.status_code == 201, r.text
    round_ = r.json()
    opened, (drawn,) = round_["ledger"], round_["effects"]
    assert (opened["event"], drawn["event"]) == ("Opened", "Drawn")
    assert opened["position"] < drawn["position"]
    checked = _verified(ex, drawn, ex.token("auditor", "li.wei"))
    assert (checked.subject, checked.event) == ("SC-LEDGER", "Drawn")
    assert _verified(ex, opened, admin).event == "Opened"


def test_confirming_a_right_and_an_expiry_run_name_their_leaves(ex: Exchange) -> None:
    admin = ex.token("administrator", "wang.fang")
    r = ex.client.post(f"/enterprises/{ex.world.paper}/rights", headers=admin, json={
        "kind": "COD", "quantity": 2_000, "permit": "441900-PW-2023-0009",
        "valid_from": "2023-01-01", "valid_until": "2027-12-31"})
    assert r.status_code == 201, r.text
    ref = r.json()["ledger"]
    assert (ref["event"], ref["subject_type"], ref["subject"]) == (
        "Confirmed", "confirmed_right", f"{ex.world.paper}/COD")
    assert _verified(ex, ref, admin).subject == f"{ex.world.paper}/COD"
    r = ex.client.post("/expiry-runs", headers=admin, json={})
    assert r.status_code == 200, r.text
    run = r.json()  # nothing of the seeded vintages has expired: no leaf, none invented
    assert (run["expired"], run["ledger"], run["effects"]) == ({}, None, [])


def test_a_second_representatives_confirmation_names_the_act(ex: Exchange) -> None:
    dyeing = ex.world.dyeing
    r = ex.client.post("/agreements", headers=ex.enterprise(dyeing), json={
        "reference": "AG-LEDGER", "instrument": COD, "buyer": ex.world.paper, "price": PRICE,
        "quantity": 1000})
    assert r.status_code == 202, r.text
    request = r.json()
    assert (request["ledger"]["event"], request["ledger"]["subject"]) == ("Proposed",
                                                                           request["id"])
    r = ex.confirm(r, dyeing)
    assert r.status_code == 200, r.text
    confirmed = r.json()
    assert (confirmed["ledger"]["event"], confirmed["ledger"]["subject"]) == ("Approved",
                                                                               request["id"])
    offered = confirmed["effects"][0]
    assert (offered["event"], offered["subject"]) == ("Offered", "AG-LEDGER")
    assert _verified(ex, offered, ex.enterprise(dyeing)).subject == "AG-LEDGER"
    setting = f"/enterprises/{dyeing}/second-representative"
    r = ex.confirm(ex.client.put(setting, headers=ex.enterprise(dyeing),
                                 json={"required": False}), dyeing)
    assert r.status_code == 200, r.text
    assert [e["event"] for e in r.json()["effects"]] == ["SecondRepresentativeSet"]
    r = ex.client.put(setting, headers=ex.enterprise(dyeing), json={"required": True})
    assert r.status_code == 200, r.text  # switching it on takes effect at once
    on = r.json()["ledger"]
    assert (on["event"], on["subject"]) == ("SecondRepresentativeSet", dyeing)
    assert _verified(ex, on, ex.enterprise(dyeing)).event == "SecondRepresentativeSet"


def _searched(ex: Exchange, before: int, order_id: str) -> tuple[int, int]:
    """(position, ledger index) of an order's batch as the log says: the first batch after
    ``before`` holding it, and its leaf's index once the ledger holds it."""
    state = ex.client.app.state.registry_state  # type: ignore[attr-defined]
    found = receipts.find_order_batch(state.follower, before, instrument=COD,
                                      order_id=order_id)
    assert found is not None and found[1] == "BatchMatched"
    counted = receipts.leaf_index(state.follower, found[0])
    state.caught_up()
    assert counted == receipts.ledger_index(state.ledger, found[0])
    return found[0], counted


def test_an_orders_ledger_reference_is_the_batch_the_log_holds_it_in(ex: Exchange) -> None:
    """The position the save gave an order's batch, and its ledger index counted once for
    the batch, are what searching the log for the order and counting its leaf give."""
    seller, buyer = ex.enterprise(ex.world.dyeing), ex.enterprise(ex.world.paper)

    def position() -> int:
        return int(ex.registry.queries.position())

    before = position()
    r = ex.client.post(f"/markets/{COD}/orders", headers=seller,
                       json={"order_id": "s-1", "side": "sell", "price": PRICE,
                             "quantity": 3000})
    assert r.status_code == 201, r.text
    ref = r.json()["ledger"]
    assert (ref["position"], ref["ledger_index"]) == _searched(ex, before, "s-1")
    before = position()
    r = ex.client.patch(f"/markets/{COD}/orders/s-1", headers=seller,
                        json={"quantity": 2000})
    assert r.status_code == 200, r.text
    amended = r.json()["ledger"]
    assert (amended["position"], amended["ledger_index"]) == _searched(ex, before, "s-1")
    assert amended["position"] > ref["position"]
    before = position()
    items = [{"action": "order", "order_id": f"k-{n}", "side": "buy", "kind": "limit",
              "price": PRICE, "quantity": 1000} for n in range(3)]
    r = ex.client.post(f"/markets/{COD}/bulk-orders", headers=buyer, json={"items": items})
    assert r.status_code == 201, r.text
    bulk = r.json()
    assert (bulk["ledger"]["position"], bulk["ledger"]["ledger_index"]) == _searched(
        ex, before, "k-0")
    fills = [f["ledger"] for item in bulk["items"] for f in item["fills"]]
    assert len(fills) == 2 and all(f["position"] == bulk["ledger"]["position"] for f in fills)
    before = position()
    r = ex.client.delete(f"/markets/{COD}/orders/k-2", headers=buyer)
    assert r.status_code == 200, r.text
    cancelled = r.json()["ledger"]
    assert (cancelled["position"], cancelled["ledger_index"]) == _searched(ex, before, "k-2")
    assert cancelled["receipt"] == (f"/ledger/receipts/{cancelled['position']}"
                                    f"?subject_type=market&subject={COD}")

"""Holdings over HTTP: balances and blocks (own only), transfers under the trading-scope rules,
holds, retirement, freezes, the expiry run and who may read a serial's provenance.

The seeded world: RF-1 issued serials 1–800 of COD-2025-MAOZHOU to ``dyeing``; 1–300 went to
``paper`` (transfer T-1)."""

from __future__ import annotations

import base64
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.checkpoint import verify_checkpoint
from ledger.merkle import hash_leaf, verify_inclusion
from registry.bootstrap import build_registry
from tests.support.registry_helpers import COD, Api, problem
from tests.support.world import World, build_world, issue

pytest_plugins = ["tests.support.registry_world"]


def balance(api: Api, code: str, instrument: str = COD) -> dict[str, Any]:
    rows = api.admin.get(f"/holdings/{code}").json()["items"]
    found = [r for r in rows if r["instrument"] == instrument]
    return found[0] if found else {}


def send(api: Api, seller: str, buyer: str, quantity: int, ref: str = "T-2",
         **extra: Any) -> Any:
    return api.admin.post(f"/holdings/{seller}/transfers", {
        "instrument": COD, "buyer": buyer, "quantity": quantity, "ref": ref,
        "reason": "correction", **extra})


def test_an_enterprise_reads_its_own_holdings(api: Api) -> None:
    response = api.firm(api.w.dyeing).get(f"/holdings/{api.w.dyeing}")
    assert response.status_code == 200
    assert response.json() == {"items": [{
        "enterprise": api.w.dyeing, "instrument": COD,
        "term": {"first_year": 2026, "last_year": 2030, "ends_on": "2030-12-31"},
        "available": 500, "usable": 500,
        "frozen": 0, "reserved": 0, "consumed": 0, "retired": 0, "expired": 0, "revoked": 0}],
        "offset": 0, "limit": 50, "total": 1}
    assert api.auditor.get(f"/holdings/{api.w.paper}").json()["items"][0]["available"] == 300
    assert api.firm(api.w.power).get(f"/holdings/{api.w.power}").json()["total"] == 0


def test_another_enterprises_holdings_are_not_found(api: Api) -> None:
    problem(api.firm(api.w.paper).get(f"/holdings/{api.w.dyeing}"), 404, "not-found")
    problem(api.firm(api.w.paper).get(f"/holdings/{api.w.dyeing}/instruments/{COD}"), 404,
            "not-found")
    problem(api.agency(api.w.auditor).get(f"/holdings/{api.w.dyeing}"), 404)
    problem(api.anonymous.get(f"/holdings/{api.w.dyeing}"), 401)
    problem(api.admin.get(f"/holdings/{api.w.auditor}"), 404)  # an agency's code: no enterprise


def test_one_instrument_shows_the_serial_blocks(api: Api) -> None:
    body = api.firm(api.w.dyeing).get(f"/holdings/{api.w.dyeing}/instruments/{COD}").json()
    assert body["available"] == 500
    assert body["blocks"] == [{"first": 301, "last": 800, "state": "available",
                               "serials": f"{COD}-000000301-000000800", "lot": "RF-1/COD",
                               "ref": None, "frozen": None}]
    problem(api.admin.get(f"/holdings/{api.w.dyeing}/instruments/COD-2024-MAOZHOU"), 404)
    problem(api.admin.get(f"/holdings/{api.w.dyeing}/instruments/cod 2025"), 422)


def test_a_transfer_names_its_rule_version_and_lands_in_the_ledger(api: Api) -> None:
    response = send(api, api.w.dyeing, api.w.paper, 120)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["rule_version"] == "GD-2023.1"
    assert (body["seller"], body["buyer"], body["quantity"]) == (api.w.dyeing, api.w.paper, 120)
    assert balance(api, api.w.dyeing)["available"] == 380
    assert balance(api, api.w.paper)["available"] == 420
    ledger = api.client.app.state.registry_state.caught_up()  # type: ignore[attr-defined]
    leaves = [json.loads(ledger.leaf(i)) for i in range(ledger.size)]
    leaf = next(x for x in leaves if x["position"] == body["position"])
    assert leaf["topic"].endswith("Instrument.Transferred.v1")
    assert leaf["payload"]["ref"] == "T-2" and leaf["payload"]["rule_version"] == "GD-2023.1"


@pytest.mark.parametrize(("buyer", "why"), [
    ("power", "Danshui basin, not Maozhou"), ("electronics", "not a direct discharger")])
def test_transfers_outside_the_trading_scope_are_refused(api: Api, buyer: str, why: str) -> None:
    before = api.position()
    problem(send(api, api.w.dyeing, getattr(api.w, buyer), 10), 422, "outside-trading-zone")
    assert api.position() == before, why


def test_transfer_refusals_write_nothing(api: Api) -> None:
    before = api.position()
    problem(send(api, api.w.dyeing, api.w.paper, 501), 409, "insufficient-holdings")
    problem(send(api, api.w.dyeing, api.w.dyeing, 1), 422)
    problem(send(api, api.w.dyeing, api.w.paper, 0), 422, "invalid-request")
    problem(send(api, api.w.dyeing, api.w.paper, 10.0), 422, "invalid-request")  # type: ignore[arg-type]
    problem(send(api, api.w.dyeing, api.w.paper, "10"), 422, "invalid-request")  # type: ignore[arg-type]
    problem(send(api, api.w.dyeing, api.w.paper, 10, price=5), 422, "invalid-request")
    assert api.position() == before


def test_a_repeated_transfer_reference_is_refused_and_moves_nothing(api: Api) -> None:
    assert send(api, api.w.dyeing, api.w.paper, 10, ref="T-7").status_code == 201
    before = api.position()
    again = problem(send(api, api.w.dyeing, api.w.paper, 10, ref="T-7"), 409, "already-exists")
    assert "T-7" in again["detail"]
    problem(send(api, api.w.dyeing, api.w.paper, 1, ref="T-1"), 409, "already-exists")  # seeded
    assert api.position() == before
    assert balance(api, api.w.paper)["available"] == 310
    # the reference is the seller's own: another seller may use the same one
    assert send(api, api.w.paper, api.w.dyeing, 1, ref="T-7").status_code == 201


def test_only_an_administrator_moves_units_outside_the_exchange(api: Api) -> None:
    body = {"instrument": COD, "buyer": api.w.paper, "quantity": 5, "ref": "T-9",
            "reason": "court-order"}
    # a sale goes through the exchange: the seller itself may not move units off it
    problem(api.firm(api.w.dyeing).post(f"/holdings/{api.w.dyeing}/transfers", body), 403)
    problem(api.firm(api.w.paper).post(f"/holdings/{api.w.dyeing}/transfers", body), 403)
    problem(api.admin.post(f"/holdings/{api.w.dyeing}/transfers",
                           {**body, "reason": "sale"}), 422)  # not a non-trade reason
    problem(api.auditor.post(f"/holdings/{api.w.dyeing}/transfers", body), 403)
    problem(api.agency(api.w.auditor).post(f"/holdings/{api.w.dyeing}/transfers", body), 403)
    problem(api.anonymous.post(f"/holdings/{api.w.dyeing}/transfers", body), 401)
    by_admin = api.admin.post(f"/holdings/{api.w.dyeing}/transfers", body)
    assert by_admin.status_code == 201
    assert by_admin.json()["seller"] == api.w.dyeing


def test_holds_reserve_deliver_and_release(api: Api) -> None:
    dyeing = api.firm(api.w.dyeing)
    held = dyeing.post(f"/holdings/{api.w.dyeing}/reservations",
                       {"instrument": COD, "quantity": 200, "ref": "L-1"})
    assert held.status_code == 201, held.text
    row = balance(api, api.w.dyeing)
    assert (row["available"], row["reserved"], row["usable"]) == (300, 200, 300)
    delivered = send(api, api.w.dyeing, api.w.paper, 50, ref="T-L1", from_reservation="L-1")
    assert delivered.status_code == 201, delivered.text
    assert balance(api, api.w.dyeing)["reserved"] == 150
    # the paper mill cannot release the dyer's hold: holds are scoped to their owner
    problem(api.firm(api.w.paper).post(f"/holdings/{api.w.paper}/releases",
                                       {"instrument": COD, "ref": "L-1"}), 404)
    released = dyeing.post(f"/holdings/{api.w.dyeing}/releases",
                           {"instrument": COD, "ref": "L-1"})
    answer = released.json()
    assert answer.pop("ledger")["event"] == "Released"  # its leaf in the ledger
    assert answer == {"instrument": COD, "ref": "L-1", "quantity": 150}
    assert balance(api, api.w.dyeing)["available"] == 450
    problem(dyeing.post(f"/holdings/{api.w.dyeing}/releases",
                        {"instrument": COD, "ref": "L-1"}), 404)


def test_holds_never_touch_reservations_made_elsewhere(api: Api) -> None:
    x = api.firm(api.w.dyeing).post("/expansions", {
        "reference": "EXP-1", "instrument": COD, "quantity": 100, "project": "new dye line"})
    assert x.status_code == 201, x.text
    before = api.position()
    problem(api.firm(api.w.dyeing).post(f"/holdings/{api.w.dyeing}/releases",
                                        {"instrument": COD, "ref": "expansion:EXP-1"}), 404)
    problem(send(api, api.w.dyeing, api.w.paper, 10, from_reservation="expansion:EXP-1"), 409)
    assert api.position() == before
    assert balance(api, api.w.dyeing)["reserved"] == 100


def test_retirement(api: Api) -> None:
    dyeing = api.firm(api.w.dyeing)
    done = dyeing.post(f"/holdings/{api.w.dyeing}/retirements",
                       {"instrument": COD, "quantity": 50, "reason": "voluntary cancellation"})
    assert done.status_code == 201, done.text
    row = balance(api, api.w.dyeing)
    assert (row["available"], row["retired"]) == (450, 50)
    problem(dyeing.post(f"/holdings/{api.w.dyeing}/retirements",
                        {"instrument": COD, "quantity": 451, "reason": "too many"}), 409)
    problem(dyeing.post(f"/holdings/{api.w.dyeing}/retirements",
                        {"instrument": COD, "quantity": 5, "reason": " "}), 422)


def test_administrators_freeze_and_unfreeze(api: Api) -> None:
    order = {"instrument": COD, "owner": api.w.dyeing, "ref": "GDEE-FRZ-1",
             "reason": "suspected false reporting", "quantity": 100}
    problem(api.firm(api.w.dyeing).post("/freezes", order), 403)
    problem(api.auditor.post("/freezes", order), 403)
    frozen = api.admin.act("/freezes", order)
    assert frozen.status_code == 200, frozen.text
    assert frozen.json()["result"] == 100
    row = balance(api, api.w.dyeing)
    assert (row["available"], row["frozen"], row["usable"]) == (500, 100, 400)
    problem(send(api, api.w.dyeing, api.w.paper, 401), 409, "insufficient-holdings")
    problem(api.firm(api.w.dyeing).post("/unfreezes",
                                        {"instrument": COD, "ref": "GDEE-FRZ-1"}), 403)
    lifted = api.admin.act("/unfreezes", {"instrument": COD, "ref": "GDEE-FRZ-1"})
    assert lifted.json()["result"] == 100
    assert balance(api, api.w.dyeing)["usable"] == 500
    problem(api.admin.act("/unfreezes", {"instrument": COD, "ref": "GDEE-FRZ-1"}), 404)


def test_the_expiry_run_expires_only_lapsed_units(api: Api) -> None:
    registry = api.client.app.state.registry_state.registry  # type: ignore[attr-defined]
    old: World = api.w
    issue(registry, old, reference="RF-2020", enterprise=old.dyeing, kind="COD",
          baseline=300, post=100, period=2020)  # valid until 2025-12-31
    before = api.position()
    for bad in ("2099-01-01", "2026-13-45", 1_767_225_600, "yesterday"):
        problem(api.admin.post("/expiry-runs", {"as_of": bad}), 422)
    assert api.position() == before
    problem(api.firm(api.w.dyeing).post("/expiry-runs", {}), 403)
    run = api.admin.post("/expiry-runs", {"as_of": "2026-01-01"})
    assert run.status_code == 200, run.text
    out = run.json()
    effects, first = out.pop("effects"), out.pop("ledger")  # one Expired leaf per instrument
    assert out == {"as_of": "2026-01-01", "expired": {"COD-2020-MAOZHOU": 200}}
    assert [(e["event"], e["subject_type"], e["subject"]) for e in effects] == [
        ("Expired", "expiry", "2026-01-01")] and first == effects[0]
    assert api.admin.get(first["receipt"]).status_code == 200
    assert balance(api, api.w.dyeing, "COD-2020-MAOZHOU")["expired"] == 200
    assert balance(api, api.w.dyeing)["available"] == 500  # the 2025 vintage is still valid
    assert api.admin.post("/expiry-runs", {}).json()["expired"] == {}


SERIAL = f"{COD}-000000001"  # issued to dyeing, transferred to paper in T-1


@pytest.mark.parametrize(("who", "sees"), [
    ("paper", True), ("dyeing", True), ("electronics", False), ("power", False),
    ("verifier", True), ("auditor", True), ("other_agency", False)])
def test_provenance_is_for_the_parties_it_names(api: Api, who: str, sees: bool) -> None:
    role = "agency" if who in ("verifier", "auditor", "other_agency") else "enterprise"
    response = api.as_(role, getattr(api.w, who)).get(f"/serials/{SERIAL}")
    if not sees:
        problem(response, 404, "not-found")
        return
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["final"]["owner"] == api.w.paper
    assert [h["event"] for h in body["history"]] == ["LotIssued", "Transferred"]
    assert len(body["retrofit"]["evidence"]) == 3


def test_provenance_for_administrators_and_auditors(api: Api) -> None:
    assert api.admin.get(f"/serials/{SERIAL}").status_code == 200
    assert api.auditor.get(f"/serials/{SERIAL}").json()["lot"] == "RF-1/COD"
    problem(api.admin.get(f"/serials/{COD}-000009999"), 404)
    problem(api.admin.get("/serials/not-a-serial"), 422)
    problem(api.anonymous.get(f"/serials/{SERIAL}"), 401)


def test_both_parties_fetch_a_verifiable_receipt_of_a_transfer(api: Api) -> None:
    position = send(api, api.w.dyeing, api.w.paper, 40, ref="T-R").json()["position"]
    vkey = api.client.get("/ledger/vkey").text.strip()
    for party in (api.w.dyeing, api.w.paper):
        got = api.firm(party).get(f"/holdings/{party}/receipts/{position}")
        assert got.status_code == 200, got.text
        r = got.json()
        assert (r["subject"], r["event"], r["position"]) == ("T-R", "Transferred", position)
        cp = verify_checkpoint(note=r["checkpoint"], vkey=vkey)
        leaf = base64.b64decode(r["leaf"])
        assert json.loads(leaf)["payload"]["quantity"] == 40
        verify_inclusion(index=r["index"], size=r["proof"]["size"], leaf_hash=hash_leaf(leaf),
                         proof=[base64.b64decode(h) for h in r["proof"]["hashes"]],
                         root=cp.root)
    problem(api.firm(api.w.chemicals).get(f"/holdings/{api.w.chemicals}/receipts/{position}"),
            404)
    problem(api.firm(api.w.chemicals).get(f"/holdings/{api.w.dyeing}/receipts/{position}"),
            404)
    problem(api.firm(api.w.dyeing).get(f"/holdings/{api.w.dyeing}/receipts/1"), 404)
    problem(api.firm(api.w.dyeing).get(f"/holdings/{api.w.dyeing}/receipts/0"), 422)


def test_a_repeated_transfer_with_the_same_idempotency_key_moves_units_once(api: Api) -> None:
    body = {"instrument": COD, "buyer": api.w.paper, "quantity": 25, "ref": "T-IDEM",
            "reason": "correction"}
    dyeing = api.admin
    first = dyeing.post(f"/holdings/{api.w.dyeing}/transfers", body, **{"Idempotency-Key": "k1"})
    again = dyeing.post(f"/holdings/{api.w.dyeing}/transfers", body, **{"Idempotency-Key": "k1"})
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert balance(api, api.w.dyeing)["available"] == 475
    problem(dyeing.post(f"/holdings/{api.w.dyeing}/transfers", {**body, "quantity": 26},
                        **{"Idempotency-Key": "k1"}), 422)
    assert balance(api, api.w.dyeing)["available"] == 475


@pytest.mark.postgres
def test_transfer_and_receipt_on_postgresql(postgres_env: dict[str, str], tmp_path: Path) -> None:
    env = {"REGISTRY_STORE": "postgres", "REGISTRY_DATA_DIR": str(tmp_path), **postgres_env}
    registry = build_registry(env)
    try:
        w = build_world(registry)
        issue(registry, w, reference="RF-1", enterprise=w.dyeing, kind="COD", baseline=900,
              post=100)
    finally:
        registry.close()
    with TestClient(create_app(env)) as client:
        api = Api(client=client, folder=tmp_path)
        sent = send(api, w.dyeing, w.paper, 70, ref="T-PG")
        assert sent.status_code == 201, sent.text
        position = sent.json()["position"]
        assert balance(api, w.paper)["available"] == 70
        got = api.firm(w.paper).get(f"/holdings/{w.paper}/receipts/{position}").json()
        leaf = json.loads(base64.b64decode(got["leaf"]))
        assert (leaf["position"], leaf["payload"]["ref"]) == (position, "T-PG")


def test_concurrent_transfers_from_one_seller_lose_nothing(api: Api) -> None:
    """Twelve requests for 50 units each race for the dyer's 500: exactly ten succeed, the rest
    are refused for insufficient holdings, and the units add up."""
    api.firm(api.w.dyeing)  # mint the token before the threads start

    def one(n: int) -> int:
        return int(send(api, api.w.dyeing, api.w.paper, 50, ref=f"T-C{n}").status_code)

    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = sorted(pool.map(one, range(12)))
    assert statuses == [201] * 10 + [409] * 2
    assert balance(api, api.w.dyeing) == {}  # no units left in COD, so no row at all
    assert balance(api, api.w.paper)["available"] == 800

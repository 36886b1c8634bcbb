"""Confirmed rights over HTTP: administrators confirm them from permits; issuance is capped by
them; a transfer amends both parties' rights in its own save; an expansion records its new
project's permit; bad input is a typed problem that changes nothing."""

from __future__ import annotations

from typing import Any

from tests.support.registry_helpers import COD, Api, problem
from tests.support.world import GENEROUS_RIGHT, sha

pytest_plugins = ["tests.support.registry_world"]

PERMIT = {"kind": "COD", "quantity": 2_000, "permit": "441900-PW-2023-0002",
          "valid_from": "2023-01-01", "valid_until": "2027-12-31"}


def rights(api: Api, code: str) -> dict[str, Any]:
    r = api.admin.get(f"/enterprises/{code}/rights")
    assert r.status_code == 200, r.text
    return {x["kind"]: x for x in r.json()}


def test_a_transfer_amends_both_parties_rights(api: Api) -> None:
    w = api.w
    confirmed = api.admin.post(f"/enterprises/{w.paper}/rights", PERMIT)
    assert confirmed.status_code == 201, confirmed.text
    assert confirmed.json()["unit"] == "kg/yr"
    moved = api.admin.post(f"/holdings/{w.dyeing}/transfers", {
        "instrument": COD, "buyer": w.paper, "quantity": 200, "ref": "HX-JH-2",
        "reason": "correction"})  # off-exchange transfers are administrators' only
    assert moved.status_code == 201, moved.text
    seller, buyer = rights(api, w.dyeing)["COD"], rights(api, w.paper)["COD"]
    assert seller["quantity"] == GENEROUS_RIGHT - 300 - 200  # T-1 of the seed, then this one
    assert seller["changes"][-1] | {"at": None} == {
        "change": "sold", "amount": 200, "ref": "HX-JH-2", "counterparty": w.paper,
        "quantity": GENEROUS_RIGHT - 500, "at": None}
    assert (buyer["quantity"], buyer["changes"][-1]["change"]) == (2_200, "bought")
    assert seller["levels"] == {"RF-1": 100}  # baseline 900 − verified 800


def test_issuance_is_capped_by_the_confirmed_right(api: Api) -> None:
    w, ref = api.w, "RF-CAP"
    api.admin.post(f"/enterprises/{w.chemicals}/rights", {**PERMIT, "kind": "NH3N",
                                                          "quantity": 700})
    firm = api.firm(w.chemicals)
    assert firm.post("/retrofits", {"reference": ref, "period": 2025, "kinds": ["NH3N"],
                                    "description": "stripping"}).status_code == 201
    for stage, agency in (("audit", w.auditor), ("verification", w.verifier)):
        engaged = firm.post(f"/retrofits/{ref}/engagements", {"stage": stage, "agency": agency})
        assert engaged.status_code == 201, engaged.text
    for stage, agency, field, amount in (("baseline-audit", w.auditor, "amounts", 1_000),
                                         ("post-audit", w.auditor, "amounts", 400),
                                         ("verification", w.verifier, "reductions", 500)):
        done = api.agency(agency).post(f"/retrofits/{ref}/{stage}", {
            "report_sha256": sha(f"{ref}/{stage}"), field: {"NH3N": amount}})
        assert done.status_code == 200, done.text
    assert api.admin.act(f"/retrofits/{ref}/confirmation").json()["result"] == {"NH3N": 500}
    proposed = api.admin.post(f"/retrofits/{ref}/issuance")
    assert proposed.status_code == 202, proposed.text
    approve = f"/proposals/{proposed.json()['id']}/approve"
    approver = api.second_admin  # its token is minted before the count is taken
    before = api.position()
    # right 700 − post-retrofit level 500 (1,000 − 500 verified) − no task = 200 < 500
    refused = problem(approver.post(approve), 409, "surplus-exceeds-right")
    assert "at most 200" in refused["detail"]
    assert api.position() == before  # the act refused: nothing written, the proposal pending
    api.admin.post(f"/enterprises/{w.chemicals}/rights", {**PERMIT, "kind": "NH3N",
                                                          "quantity": 1_000,
                                                          "permit": "441300-PW-2025-0009"})
    assert api.admin.act(f"/retrofits/{ref}/issuance").status_code == 200
    right = rights(api, w.chemicals)["NH3N"]
    assert right["permit"]["number"] == "441300-PW-2025-0009"
    assert [c["change"] for c in right["changes"]] == ["confirmed", "reconfirmed", "retrofit"]


def test_an_expansion_records_the_new_projects_permit(api: Api) -> None:
    w = api.w
    submitted = api.firm(w.dyeing).post("/expansions", {
        "reference": "EXP-1", "instrument": COD, "quantity": 100, "project": "line 3"})
    assert submitted.status_code == 201, submitted.text
    approved = api.admin.post("/expansions/EXP-1/approval", {"approval": "SZ-PW-2025-0303"})
    assert approved.status_code == 200, approved.text
    right = rights(api, w.dyeing)["COD"]
    assert right["expansion_use"] == 100
    assert right["changes"][-1]["project_permit"] == "SZ-PW-2025-0303"


def test_revocation_withdraws_the_level_and_the_buyers_right(api: Api) -> None:
    w = api.w
    api.admin.post(f"/enterprises/{w.paper}/rights", PERMIT)
    moved = api.admin.post(f"/holdings/{w.dyeing}/transfers", {
        "instrument": COD, "buyer": w.paper, "quantity": 100, "ref": "HX-JH-3",
        "reason": "correction"})
    assert moved.status_code == 201, moved.text
    revoked = api.admin.act("/retrofits/RF-1/revocation", {"reason": "fake meter",
                                                          "spot_check": "SC-1"})
    assert revoked.status_code == 200, revoked.text
    assert rights(api, w.dyeing)["COD"]["levels"] == {}
    paper = rights(api, w.paper)["COD"]
    # confirmed 2,000 + bought 100; the 300 bought before its right was confirmed and the 100
    # after are both revoked: the right falls by all 400 it lost
    assert (paper["quantity"], paper["changes"][-1]["change"]) == (1_700, "revoked")


def test_bad_confirmations_change_nothing_and_only_administrators_confirm(api: Api) -> None:
    w = api.w
    before = api.position()
    for change, status, code in (({"quantity": -1}, 422, "invalid-request"),
                                 ({"valid_until": "2022-01-01"}, 422, "invalid-input"),
                                 ({"valid_from": "2023-02-30"}, 422, "invalid-input"),
                                 ({"kind": "CO2"}, 422, "invalid-request"),
                                 ({"extra": 1}, 422, "invalid-request")):
        problem(api.admin.post(f"/enterprises/{w.paper}/rights", {**PERMIT, **change}),
                status, code)
    problem(api.firm(w.paper).post(f"/enterprises/{w.paper}/rights", PERMIT), 403, "forbidden")
    assert api.position() == before
    assert api.firm(w.paper).get(f"/enterprises/{w.paper}/rights").json() == []
    problem(api.firm(w.power).get(f"/enterprises/{w.paper}/rights"), 404)

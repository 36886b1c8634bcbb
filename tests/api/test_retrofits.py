"""The retrofit lifecycle over HTTP: the enterprise registers, agencies audit and verify under
their own credit codes with SHA-256 evidence, administrators confirm (确权), issue and revoke."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.registry_helpers import COD, Api, problem
from tests.support.world import sha

pytest_plugins = ["tests.support.registry_world"]

NH3N = "NH3N-2025-DANSHUI"


def register(api: Api, reference: str = "RF-9", *, engage_verifier: bool = True,
             **changes: Any) -> Any:
    """Register, and engage the auditor for the audits and the verifier for verification."""
    body = {"reference": reference, "period": 2025, "kinds": ["NH3N"],
            "description": "ammonia stripping tower", **changes}
    firm = api.firm(api.w.chemicals)
    created = firm.post("/retrofits", body)
    if created.status_code == 201:
        stages = [("audit", api.w.auditor)] + (
            [("verification", api.w.verifier)] if engage_verifier else [])
        for stage, agency in stages:
            engaged = firm.post(f"/retrofits/{reference}/engagements",
                                {"stage": stage, "agency": agency})
            assert engaged.status_code == 201, engaged.text
    return created


def audit(api: Api, agency: str, stage: str, reference: str = "RF-9", **amounts: int) -> Any:
    field = "reductions" if stage == "verification" else "amounts"
    return api.agency(agency).post(f"/retrofits/{reference}/{stage}",
                                   {"report_sha256": sha(f"{reference}/{stage}"),
                                    field: amounts})


def test_the_whole_lifecycle_then_revocation_after_a_failed_spot_check(api: Api) -> None:
    w = api.w
    assert api.admin.act(f"/enterprises/{w.chemicals}/obligations",
                         {"kind": "NH3N", "period": 2025, "target": 100}).status_code == 200
    created = register(api)
    assert created.status_code == 201, created.text
    assert (created.json()["state"], created.json()["enterprise"]) == ("registered", w.chemicals)

    assert audit(api, w.auditor, "baseline-audit", NH3N=1000).json()["state"] == \
        "baseline_audited"
    post = audit(api, w.auditor, "post-audit", NH3N=400).json()
    assert post["state"] == "post_audited"
    assert post["post_audit"]["report_sha256"] == sha("RF-9/post-audit")
    # the auditing agency may not verify its own work
    problem(audit(api, w.auditor, "verification", NH3N=500), 403, "agency-not-eligible")
    verified = audit(api, w.verifier, "verification", NH3N=500).json()
    assert verified["verification"]["agency"] == w.verifier

    problem(api.firm(w.chemicals).post("/retrofits/RF-9/confirmation"), 403, "forbidden")
    proposed = api.client.post("/retrofits/RF-9/confirmation",
                               headers=api.admin.auth)  # no body at all
    assert proposed.status_code == 202, proposed.text
    problem(api.admin.post(f"/proposals/{proposed.json()['id']}/approve"), 403,
            "four-eyes-violation")  # the proposer does not approve its own proposal
    confirmed = api.second_admin.post(f"/proposals/{proposed.json()['id']}/approve")
    assert confirmed.json()["result"] == {"NH3N": 400}
    task = api.admin.get(f"/enterprises/{w.chemicals}").json()["obligations"]
    assert task == [{"kind": "NH3N", "period": 2025, "target": 100, "achieved": 100,
                     "remaining": 0}]

    right = {"kind": "NH3N", "quantity": 900, "permit": "PW-HZ-2023-009",
             "valid_from": "2023-01-01", "valid_until": "2027-12-31"}
    assert api.admin.post(f"/enterprises/{w.chemicals}/rights", right).status_code == 201
    issued = api.admin.act("/retrofits/RF-9/issuance")
    assert issued.status_code == 200, issued.text
    assert issued.json()["result"]["NH3N"] == {"instrument": NH3N, "lot": "RF-9/NH3N",
                                             "first": 1, "last": 400, "quantity": 400,
                                             "term": {"first_year": 2026, "last_year": 2030,
                                                      "ends_on": "2030-12-31"}}
    holdings = api.firm(w.chemicals).get(f"/holdings/{w.chemicals}").json()["items"]
    assert [(h["instrument"], h["available"]) for h in holdings] == [(NH3N, 400)]
    problem(api.admin.post("/retrofits/RF-9/issuance"), 409, "invalid-state")

    revoked = api.admin.act("/retrofits/RF-9/revocation", {
        "reason": "post-retrofit monitoring data were falsified", "spot_check": "GDEE-SC-7",
        "restrict_agencies": [w.verifier]})
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["result"]["NH3N"] == {
        "lost_by_holder": {w.chemicals: 400}, "unrecoverable": 0, "reservations_hit": {}}
    assert api.admin.get("/retrofits/RF-9").json()["state"] == "revoked"
    assert api.admin.get(f"/holdings/{w.chemicals}").json()["items"][0]["revoked"] == 400
    assert api.admin.get(f"/credit/enterprises/{w.chemicals}").json()["standing"] == "restricted"
    assert api.admin.get(f"/credit/agencies/{w.verifier}").json()["standing"] == "restricted"
    # a barred agency verifies nothing more
    problem(api.firm(w.chemicals).post("/retrofits/RF-9/engagements", {
        "stage": "verification", "agency": w.verifier}), 409)  # RF-9 is past verification
    register(api, "RF-10", engage_verifier=False)
    problem(api.firm(w.chemicals).post("/retrofits/RF-10/engagements", {
        "stage": "verification", "agency": w.verifier}), 403, "agency-not-eligible")
    audit(api, w.auditor, "baseline-audit", "RF-10", NH3N=50)
    audit(api, w.auditor, "post-audit", "RF-10", NH3N=40)
    problem(audit(api, w.verifier, "verification", "RF-10", NH3N=10), 403,
            "agency-not-eligible")


def test_no_surplus_when_the_reduction_only_meets_the_task(api: Api) -> None:
    w = api.w
    api.admin.act(f"/enterprises/{w.chemicals}/obligations",
                  {"kind": "NH3N", "period": 2025, "target": 1000})
    register(api)
    audit(api, w.auditor, "baseline-audit", NH3N=1000)
    audit(api, w.auditor, "post-audit", NH3N=400)
    audit(api, w.verifier, "verification", NH3N=600)
    assert api.admin.act("/retrofits/RF-9/confirmation").json()["result"] == {"NH3N": 0}
    before = api.position()
    problem(api.admin.post("/retrofits/RF-9/issuance"), 409, "no-surplus")
    assert api.position() == before


def test_who_registers_a_retrofit(api: Api) -> None:
    w = api.w
    body = {"reference": "RF-A", "period": 2025, "kinds": ["COD"], "description": "d"}
    problem(api.firm(w.chemicals).post("/retrofits", {**body, "enterprise": w.paper}), 404)
    problem(api.admin.post("/retrofits", body), 422)  # an administrator names the enterprise
    problem(api.auditor.post("/retrofits", body), 403)
    problem(api.agency(w.auditor).post("/retrofits", body), 403)
    problem(api.anonymous.post("/retrofits", body), 401)
    by_admin = api.admin.post("/retrofits", {**body, "enterprise": w.paper})
    assert by_admin.status_code == 201 and by_admin.json()["enterprise"] == w.paper
    problem(api.firm(w.paper).post("/retrofits", body), 409, "already-exists")


def test_only_agencies_submit_audits_and_only_under_their_own_code(api: Api) -> None:
    register(api)
    submission = {"report_sha256": sha("x"), "amounts": {"NH3N": 10}}
    for who in (api.admin, api.firm(api.w.chemicals), api.auditor):
        problem(who.post("/retrofits/RF-9/baseline-audit", submission), 403)
    problem(api.agency(api.w.auditor).post("/retrofits/RF-9/baseline-audit",
                                           {**submission, "agency": api.w.verifier}), 422)
    done = api.agency(api.w.auditor).post("/retrofits/RF-9/baseline-audit", submission)
    assert done.json()["baseline_audit"]["agency"] == api.w.auditor


@pytest.mark.parametrize("submission", [
    {"report_sha256": "ABC", "amounts": {"NH3N": 10}},
    {"report_sha256": sha("x").upper(), "amounts": {"NH3N": 10}},
    {"report_sha256": sha("x"), "amounts": {"NH3N": 10.5}},
    {"report_sha256": sha("x"), "amounts": {"NH3N": -1}},
    {"report_sha256": sha("x"), "amounts": {"PM25": 10}},
    {"report_sha256": sha("x"), "amounts": {"COD": 10}},  # not a kind of this retrofit
    {"report_sha256": sha("x"), "amounts": {}},
    {"report_sha256": sha("x")},
])
def test_bad_audits_are_refused_and_write_nothing(api: Api, submission: dict[str, Any]) -> None:
    register(api)
    before = api.position()
    problem(api.agency(api.w.auditor).post("/retrofits/RF-9/baseline-audit", submission), 422)
    assert api.position() == before
    assert api.admin.get("/retrofits/RF-9").json()["state"] == "registered"


def test_lifecycle_order_is_enforced(api: Api) -> None:
    register(api)
    problem(audit(api, api.w.auditor, "post-audit", NH3N=1), 409, "invalid-state")
    problem(api.admin.post("/retrofits/RF-9/confirmation"), 409, "invalid-state")
    problem(api.admin.post("/retrofits/RF-404/confirmation"), 404, "not-found")
    problem(api.admin.post("/retrofits/RF-9/confirmation", {"administrator": "x"}), 422)


def test_who_reads_which_retrofit(api: Api) -> None:
    w = api.w
    register(api)  # RF-9: registered, awaiting its baseline audit
    assert api.firm(w.dyeing).get("/retrofits/RF-1").status_code == 200
    problem(api.firm(w.paper).get("/retrofits/RF-1"), 404, "not-found")
    assert api.agency(w.verifier).get("/retrofits/RF-1").status_code == 200
    problem(api.agency(w.other_agency).get("/retrofits/RF-1"), 404)
    assert api.agency(w.other_agency).get("/retrofits/RF-9").status_code == 200
    problem(api.admin.get("/retrofits/RF-404"), 404)
    assert [r["reference"] for r in api.firm(w.dyeing).get("/retrofits").json()["items"]] == \
        ["RF-1"]
    assert [r["reference"] for r in api.auditor.get("/retrofits").json()["items"]] == \
        ["RF-1", "RF-9"]
    assert api.agency(w.other_agency).get("/retrofits").json()["total"] == 0
    assert api.agency(w.auditor).get("/retrofits").json()["total"] == 1


def test_revocation_claws_back_from_good_faith_buyers_and_charges_what_was_consumed(
        api: Api) -> None:
    w = api.w
    api.firm(w.dyeing).post("/expansions", {"reference": "EXP-R", "instrument": COD,
                                            "quantity": 100, "project": "new line"})
    api.admin.post("/expansions/EXP-R/approval", {"approval": "APPROVAL-7"})
    revoked = api.admin.act("/retrofits/RF-1/revocation", {
        "reason": "baseline overstated", "spot_check": "GDEE-SC-1", "restrict_enterprise": False})
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["result"]["COD"] == {
        "lost_by_holder": {w.dyeing: 400, w.paper: 300}, "unrecoverable": 100,
        "reservations_hit": {}}
    assert api.admin.get(f"/enterprises/{w.dyeing}").json()["obligations"] == [
        {"kind": "COD", "period": 2025, "target": 100, "achieved": 0, "remaining": 100}]
    assert api.admin.get(f"/credit/enterprises/{w.dyeing}").json()["standing"] == "good"
    assert api.firm(w.paper).get(f"/holdings/{w.paper}").json()["items"][0]["revoked"] == 300
    problem(api.admin.act("/retrofits/RF-1/revocation", {
        "reason": "again", "spot_check": "GDEE-SC-2"}), 409, "invalid-state")

"""Credit records over HTTP: administrators restrict and restore; a restricted enterprise may
not trade, a restricted agency may not verify; a party reads only its own record."""

from __future__ import annotations

from tests.support.registry_helpers import COD, Api, problem

pytest_plugins = ["tests.support.registry_world"]

CHANGE = {"reason": "false monitoring data", "reference": "GDEE-CR-2025-09"}


def test_a_restricted_enterprise_may_not_trade_until_restored(api: Api) -> None:
    w = api.w
    proposed = api.admin.post(f"/credit/enterprises/{w.dyeing}/restrictions", CHANGE)
    assert proposed.status_code == 202, proposed.text
    assert api.admin.get(f"/credit/enterprises/{w.dyeing}").json()["standing"] == "good"
    approved = api.second_admin.post(f"/proposals/{proposed.json()['id']}/approve")
    assert approved.status_code == 200, approved.text
    restricted = api.admin.get(f"/credit/enterprises/{w.dyeing}")
    assert restricted.json()["standing"] == "restricted"
    assert restricted.json()["record"][0]["reference"] == "GDEE-CR-2025-09"
    transfer = {"instrument": COD, "buyer": w.paper, "quantity": 10, "ref": "T-X",
                "reason": "correction"}
    before = api.position()
    problem(api.admin.post(f"/holdings/{w.dyeing}/transfers", transfer), 403,
            "credit-restricted")
    assert api.position() == before
    assert api.admin.act(f"/credit/enterprises/{w.dyeing}/restorations",
                         {"reason": "corrected and fined", "reference": "GDEE-CR-10"}
                         ).status_code == 200
    restored = api.admin.get(f"/credit/enterprises/{w.dyeing}")
    assert [e["change"] for e in restored.json()["record"]] == ["restricted", "restored"]
    assert api.admin.post(f"/holdings/{w.dyeing}/transfers",
                          transfer).status_code == 201
    problem(api.admin.post(f"/credit/enterprises/{w.dyeing}/restorations", CHANGE), 409,
            "invalid-state")


def test_agency_restriction_and_restoration(api: Api) -> None:
    w = api.w
    api.firm(w.paper).post("/retrofits", {"reference": "RF-C", "period": 2025,
                                          "kinds": ["COD"], "description": "d"})
    for stage, agency in (("audit", w.auditor), ("verification", w.verifier)):
        assert api.firm(w.paper).post("/retrofits/RF-C/engagements", {
            "stage": stage, "agency": agency}).status_code == 201
    assert api.admin.act(f"/credit/agencies/{w.verifier}/restrictions",
                         CHANGE).status_code == 200
    assert api.admin.get(f"/credit/agencies/{w.verifier}").json()["standing"] == "restricted"
    api.agency(w.auditor).post("/retrofits/RF-C/baseline-audit",
                               {"report_sha256": "b" * 64, "amounts": {"COD": 100}})
    api.agency(w.auditor).post("/retrofits/RF-C/post-audit",
                               {"report_sha256": "c" * 64, "amounts": {"COD": 50}})
    verification = {"report_sha256": "d" * 64, "reductions": {"COD": 50}}
    problem(api.agency(w.verifier).post("/retrofits/RF-C/verification", verification), 403,
            "agency-not-eligible")
    assert api.admin.act(f"/credit/agencies/{w.verifier}/restorations",
                         CHANGE).status_code == 200
    assert api.admin.get(f"/credit/agencies/{w.verifier}").json()["standing"] == "good"
    assert api.agency(w.verifier).post("/retrofits/RF-C/verification",
                                       verification).status_code == 200


def test_who_reads_and_writes_credit_records(api: Api) -> None:
    w = api.w
    assert api.firm(w.dyeing).get(f"/credit/enterprises/{w.dyeing}").json()["record"] == []
    problem(api.firm(w.paper).get(f"/credit/enterprises/{w.dyeing}"), 404)
    assert api.agency(w.verifier).get(f"/credit/agencies/{w.verifier}").status_code == 200
    problem(api.agency(w.auditor).get(f"/credit/agencies/{w.verifier}"), 404)
    assert api.auditor.get(f"/credit/agencies/{w.verifier}").status_code == 200
    before = api.position()
    problem(api.firm(w.dyeing).post(f"/credit/enterprises/{w.paper}/restrictions", CHANGE), 403)
    problem(api.auditor.post(f"/credit/agencies/{w.verifier}/restrictions", CHANGE), 403)
    problem(api.anonymous.post(f"/credit/agencies/{w.verifier}/restrictions", CHANGE), 401)
    problem(api.admin.post(f"/credit/enterprises/{w.paper}/restrictions",
                           {"reason": "   ", "reference": "R-1"}), 422)
    problem(api.admin.post(f"/credit/enterprises/{w.paper}/restrictions", {"reason": "x"}), 422)
    assert api.position() == before

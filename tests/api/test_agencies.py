"""Agencies over HTTP: administrators register and accredit them; every participant reads the
register."""

from __future__ import annotations

from domain.credit_code import make_credit_code
from tests.support.registry_helpers import Api, problem

pytest_plugins = ["tests.support.registry_world"]

NEW = make_credit_code("12440000MB2X00071")


def test_register_then_accredit_an_agency(api: Api) -> None:
    created = api.admin.post("/agencies", {"credit_code": NEW, "name": "Pearl River CP Centre"})
    assert created.status_code == 201, created.text
    assert (created.json()["accreditation"], created.json()["standing"]) == (None, "good")
    accredited = api.admin.post(f"/agencies/{NEW}/accreditation",
                                {"accreditation": "GD-CP-ACC-042"})
    assert accredited.json()["accreditation"] == "GD-CP-ACC-042"
    shown = accredited.json()
    assert shown.pop("ledger")["event"] == "Accredited"  # where the write sits in the ledger
    assert api.firm(api.w.dyeing).get(f"/agencies/{NEW}").json() == shown


def test_an_unaccredited_agency_may_not_audit(api: Api) -> None:
    api.admin.post("/agencies", {"credit_code": NEW, "name": "Pearl River CP Centre"})
    api.firm(api.w.paper).post("/retrofits", {"reference": "RF-P", "period": 2025,
                                              "kinds": ["COD"], "description": "d"})
    audit = {"report_sha256": "a" * 64, "amounts": {"COD": 10}}
    problem(api.agency(NEW).post("/retrofits/RF-P/baseline-audit", audit), 403,
            "agency-not-eligible")


def test_withdrawn_accreditation_bars_audits(api: Api) -> None:
    w = api.w
    problem(api.firm(w.dyeing).post(f"/agencies/{w.auditor}/accreditation/withdrawal",
                                    {"reason": "lapsed"}), 403)
    done = api.admin.post(f"/agencies/{w.auditor}/accreditation/withdrawal",
                          {"reason": "certificate lapsed"})
    assert done.json()["accreditation"] is None
    problem(api.admin.post(f"/agencies/{w.auditor}/accreditation/withdrawal",
                           {"reason": "again"}), 409, "invalid-state")
    api.firm(w.paper).post("/retrofits", {"reference": "RF-P", "period": 2025,
                                          "kinds": ["COD"], "description": "d"})
    problem(api.agency(w.auditor).post("/retrofits/RF-P/baseline-audit", {
        "report_sha256": "a" * 64, "amounts": {"COD": 10}}), 403, "agency-not-eligible")


def test_only_administrators_register_and_accredit(api: Api) -> None:
    before = api.position()
    body = {"credit_code": NEW, "name": "x"}
    problem(api.firm(api.w.dyeing).post("/agencies", body), 403)
    problem(api.agency(api.w.auditor).post("/agencies", body), 403)
    problem(api.anonymous.post("/agencies", body), 401)
    problem(api.agency(api.w.auditor).post(f"/agencies/{api.w.auditor}/accreditation",
                                           {"accreditation": "SELF-1"}), 403)
    problem(api.admin.post("/agencies", {"credit_code": NEW, "name": ""}), 422)
    problem(api.admin.post("/agencies", {**body, "accreditation": "A"}), 422)
    problem(api.admin.post("/agencies", {"credit_code": api.w.auditor, "name": "dup"}), 409)
    problem(api.admin.post(f"/agencies/{NEW}/accreditation", {"accreditation": "A-1"}), 404)
    assert api.position() == before


def test_every_participant_reads_the_register(api: Api) -> None:
    listed = api.firm(api.w.electronics).get("/agencies", limit=2).json()
    assert listed["total"] == 3 and len(listed["items"]) == 2
    assert all(a["accreditation"] for a in listed["items"])
    assert api.agency(api.w.verifier).get(f"/agencies/{api.w.auditor}").status_code == 200
    problem(api.anonymous.get("/agencies"), 401)
    problem(api.admin.get(f"/agencies/{NEW}"), 404)

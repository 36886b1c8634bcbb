"""The §19 annual report per compliance year and the province-wide report per zone, over
HTTP: every figure traces to event-log positions that have ledger receipts; CSV and a plain
printable page; no zone's total rises through trading."""

from __future__ import annotations

from tests.support.registry_helpers import COD, Api, problem

pytest_plugins = ["tests.support.registry_world"]


def test_the_enterprise_report_traces_every_figure_to_its_receipts(api: Api) -> None:
    w = api.w
    set_ = api.admin.act(f"/enterprises/{w.dyeing}/obligations",  # four eyes: approved
                         {"kind": "COD", "period": 2025, "target": 1_000})
    assert set_.status_code == 200, set_.text
    r = api.firm(w.dyeing).get(f"/reports/{w.dyeing}/2025/compliance")
    assert r.status_code == 200, r.text
    report = r.json()
    (cod,) = report["rows"]
    amounts = {k: v["amount"] for k, v in cod.items() if isinstance(v, dict) and "amount" in v}
    # vintage 2025's units are annual rights for 2026-2030 (the rules' five-year term)
    assert cod["term"] == {"first_year": 2026, "last_year": 2030, "ends_on": "2030-12-31"}
    # RF-1 of the seed: baseline 900, verified 800, issued 800; 300 sold to Paper (T-1)
    assert amounts == {"confirmed_right": 10**9 - 300, "post_retrofit_level": 100,
                       "obligation_target": 1_000, "achieved": 0, "remaining": 1_000,
                       "surplus_issued": 800, "sold": 300, "bought": 0, "used": 0,
                       "expired": 0, "revoked": 0}
    (sold_at,) = cod["sold"]["positions"]
    receipt = api.firm(w.dyeing).get(f"/holdings/{w.dyeing}/receipts/{sold_at}")
    assert receipt.status_code == 200, receipt.text
    (issued_at,) = cod["surplus_issued"]["positions"]
    assert issued_at < sold_at and cod["unit"] == "kg/yr"
    # the compliance year is the units' vintage: of 2025's figures only the standing right
    # appears in 2026's report
    (later,) = api.firm(w.dyeing).get(f"/reports/{w.dyeing}/2026/compliance").json()["rows"]
    assert {k for k, v in later.items() if isinstance(v, dict) and v.get("amount")} == {
        "confirmed_right"}


def test_csv_and_printable_page(api: Api) -> None:
    w = api.w
    csv = api.admin.get(f"/reports/{w.dyeing}/2025/compliance", format="csv")
    assert csv.headers["content-type"].startswith("text/csv")
    lines = csv.text.splitlines()
    assert lines[0] == "enterprise,compliance_year,kind,unit,term,figure,amount,positions"
    assert any(line.startswith(f"{w.dyeing},2025,COD,kg/yr,2026-2030,surplus_issued,800,")
               for line in lines)
    page = api.admin.get(f"/reports/{w.dyeing}/2025/compliance", format="html")
    assert page.headers["content-type"].startswith("text/html")
    assert "<table>" in page.text and "surplus issued" in page.text
    assert "http" not in page.text.replace('lang="en"', "")  # no external assets
    problem(api.admin.get(f"/reports/{w.dyeing}/2025/compliance", format="pdf"), 422)


def test_the_province_report_proves_no_zone_rose_through_trading(api: Api) -> None:
    r = api.auditor.get("/province-reports/2025")
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["proved"] is True and report["cross_zone_transfers"] == []
    (zone,) = report["zones"]
    assert (zone["kind"], zone["zone"], zone["conserved"]) == ("COD", "MAOZHOU", True)
    assert zone["terms"] == [{"first_year": 2026, "last_year": 2030, "ends_on": "2030-12-31"}]
    assert (zone["issued"]["amount"], zone["traded"]["amount"],
            zone["available"]["amount"]) == (800, 300, 800)
    assert COD.endswith(zone["zone"])
    assert "Proved from the event log" in api.auditor.get("/province-reports/2025",
                                                          format="html").text
    assert api.auditor.get("/province-reports/2025", format="csv").text.count("\n") == 9
    problem(api.firm(api.w.dyeing).get("/province-reports/2025"), 403, "forbidden")


def test_another_enterprise_reads_no_report(api: Api) -> None:
    w = api.w
    problem(api.firm(w.power).get(f"/reports/{w.dyeing}/2025/compliance"), 404)

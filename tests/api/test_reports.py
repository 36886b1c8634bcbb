"""Annual reports over HTTP, as JSON and as CSV, for the enterprise itself, administrators and
auditors."""

from __future__ import annotations

from tests.support.registry_helpers import Api, problem

pytest_plugins = ["tests.support.registry_world"]


def test_the_dyers_2025_report_as_json_and_csv(api: Api) -> None:
    report = api.firm(api.w.dyeing).get(f"/reports/{api.w.dyeing}/2025")
    assert report.status_code == 200, report.text
    assert report.json()["rows"] == [{
        "kind": "COD", "verified_reduction": 800, "issued": 800, "sold": 300, "bought": 0,
        "consumed": 0, "expired": 0, "revoked": 0}]
    csv = api.auditor.get(f"/reports/{api.w.dyeing}/2025", format="csv")
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.text.splitlines() == [
        "enterprise,year,kind,verified_reduction,issued,sold,bought,consumed,expired,revoked",
        f"{api.w.dyeing},2025,COD,800,800,300,0,0,0,0"]
    assert api.admin.get(f"/reports/{api.w.paper}/2025").json()["rows"][0]["bought"] == 300
    assert api.admin.get(f"/reports/{api.w.paper}/2024").json()["rows"] == []


def test_reports_are_own_only_and_validated(api: Api) -> None:
    problem(api.firm(api.w.paper).get(f"/reports/{api.w.dyeing}/2025"), 404)
    problem(api.agency(api.w.auditor).get(f"/reports/{api.w.dyeing}/2025"), 404)
    problem(api.anonymous.get(f"/reports/{api.w.dyeing}/2025"), 401)
    problem(api.admin.get(f"/reports/{api.w.dyeing}/1999"), 422)
    problem(api.admin.get(f"/reports/{api.w.dyeing}/2025", format="xlsx"), 422)

"""Enterprises over HTTP: administrators register them and set their obligations; an enterprise
reads only its own record."""

from __future__ import annotations

from domain.credit_code import make_credit_code
from tests.support.registry_helpers import Api, problem

pytest_plugins = ["tests.support.registry_world"]

NEW = make_credit_code("91440600MA7X00042")


def new_enterprise(**changes: object) -> dict[str, object]:
    body: dict[str, object] = {
        "credit_code": NEW, "name": "Foshan Nanhai Ceramics Co", "sector": "BUILDING_MATERIALS",
        "prefecture": "FOSHAN", "basin": "GUANGFO", "direct_discharger": True}
    return {**body, **changes}


def test_administrator_registers_an_enterprise_and_sets_its_task(api: Api) -> None:
    created = api.admin.post("/enterprises", new_enterprise())
    assert created.status_code == 201, created.text
    assert created.json()["standing"] == "good"
    assert created.json()["obligations"] == []
    approved = api.admin.act(f"/enterprises/{NEW}/obligations",
                             {"kind": "COD", "period": 2025, "target": 5_000})
    assert approved.status_code == 200, approved.text
    task = api.admin.get(f"/enterprises/{NEW}")
    assert task.json()["obligations"] == [
        {"kind": "COD", "period": 2025, "target": 5000, "achieved": 0, "remaining": 5000}]
    assert api.firm(NEW).get(f"/enterprises/{NEW}").json() == task.json()


def test_registering_the_same_code_twice_is_a_conflict(api: Api) -> None:
    problem(api.admin.post("/enterprises", new_enterprise(credit_code=api.w.dyeing)), 409,
            "already-exists")


def test_an_enterprise_may_not_register_enterprises(api: Api) -> None:
    before = api.position()
    problem(api.firm(api.w.dyeing).post("/enterprises", new_enterprise()), 403, "forbidden")
    problem(api.anonymous.post("/enterprises", new_enterprise()), 401, "unauthenticated")
    assert api.position() == before


def test_bad_input_is_refused_and_nothing_is_written(api: Api) -> None:
    before = api.position()
    bad_check_character = NEW[:-1] + ("1" if NEW[-1] != "1" else "2")
    problem(api.admin.post("/enterprises", new_enterprise(credit_code=bad_check_character)),
            422, "invalid-credit-code")
    problem(api.admin.post("/enterprises", new_enterprise(prefecture="ATLANTIS")), 422)
    problem(api.admin.post("/enterprises", new_enterprise(colour="green")), 422)
    problem(api.admin.post(f"/enterprises/{api.w.dyeing}/obligations",
                           {"kind": "COD", "period": 2025, "target": 1.5}), 422)
    problem(api.admin.post(f"/enterprises/{api.w.dyeing}/obligations",
                           {"kind": "COD", "period": 2025, "target": -1}), 422)
    assert api.position() == before


def test_an_enterprise_reads_its_own_record_only(api: Api) -> None:
    dyeing = api.firm(api.w.dyeing)
    mine = dyeing.get(f"/enterprises/{api.w.dyeing}")
    assert mine.status_code == 200
    assert mine.json()["sector"] == "TEXTILE_DYEING"
    problem(dyeing.get(f"/enterprises/{api.w.paper}"), 404, "not-found")
    problem(api.agency(api.w.auditor).get(f"/enterprises/{api.w.paper}"), 404)
    problem(api.admin.get(f"/enterprises/{NEW}"), 404, "not-found")


def test_administrators_and_auditors_list_enterprises_in_pages(api: Api) -> None:
    first = api.auditor.get("/enterprises", limit=2)
    assert first.status_code == 200
    page = first.json()
    assert page["total"] == 5 and len(page["items"]) == 2
    rest = api.admin.get("/enterprises", offset=2, limit=200).json()
    codes = [e["credit_code"] for e in page["items"] + rest["items"]]
    assert codes == [api.w.dyeing, api.w.paper, api.w.electronics, api.w.power,
                     api.w.chemicals]
    problem(api.firm(api.w.dyeing).get("/enterprises"), 403)
    problem(api.admin.get("/enterprises", limit=201), 422)


def test_setting_a_task_for_an_unknown_enterprise_is_404(api: Api) -> None:
    problem(api.admin.post(f"/enterprises/{NEW}/obligations",
                           {"kind": "COD", "period": 2025, "target": 1}), 404)

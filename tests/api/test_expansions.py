"""Capacity-expansion applications over HTTP: the enterprise submits (units reserved), an
administrator approves (units consumed) or rejects (units released)."""

from __future__ import annotations

from typing import Any

from tests.support.registry_helpers import COD, Api, problem

pytest_plugins = ["tests.support.registry_world"]


def submit(api: Api, reference: str = "GDKR-2025-0042", quantity: int = 200) -> Any:
    return api.firm(api.w.dyeing).post("/expansions", {
        "reference": reference, "instrument": COD, "quantity": quantity,
        "project": "second dyeing line, 40,000 t/yr"})


def row(api: Api) -> dict[str, int]:
    items: list[dict[str, int]] = api.admin.get(f"/holdings/{api.w.dyeing}").json()["items"]
    return items[0]


def test_submit_then_approve_consumes_the_units(api: Api) -> None:
    created = submit(api)
    assert created.status_code == 201, created.text
    assert created.json()["state"] == "submitted"
    assert created.json()["enterprise"] == api.w.dyeing
    assert (created.json()["ledger"]["event"], created.json()["ledger"]["subject"]) == (
        "Submitted", "GDKR-2025-0042")  # its leaf, named by the application's reference
    assert (row(api)["available"], row(api)["reserved"]) == (300, 200)
    problem(api.firm(api.w.dyeing).post("/expansions/GDKR-2025-0042/approval",
                                        {"approval": "self"}), 403)
    approved = api.admin.post("/expansions/GDKR-2025-0042/approval",
                              {"approval": "Yue-Fa-Gai-Neng-Ping-2025-117"})
    assert approved.json()["state"] == "approved"
    registry = api.client.app.state.registry_state.registry  # type: ignore[attr-defined]
    assert approved.json()["decided_by"] == registry.users.user_by_login("gdee-admin-li").user_id
    assert (row(api)["reserved"], row(api)["consumed"]) == (0, 200)
    problem(api.admin.post("/expansions/GDKR-2025-0042/rejection", {"reason": "late"}), 409,
            "invalid-state")


def test_rejection_releases_the_units(api: Api) -> None:
    submit(api)
    rejected = api.admin.post("/expansions/GDKR-2025-0042/rejection",
                              {"reason": "capacity cap of the basin reached"})
    assert rejected.json()["state"] == "rejected"
    assert (row(api)["available"], row(api)["reserved"]) == (500, 0)


def test_refusals_write_nothing(api: Api) -> None:
    before = api.position()
    problem(submit(api, quantity=501), 409, "insufficient-holdings")
    problem(submit(api, quantity=0), 422)
    problem(api.firm(api.w.dyeing).post("/expansions", {
        "reference": "X-1", "instrument": COD, "quantity": 1, "project": "p",
        "enterprise": api.w.paper}), 404)
    problem(api.agency(api.w.auditor).post("/expansions", {
        "reference": "X-1", "instrument": COD, "quantity": 1, "project": "p"}), 403)
    problem(api.firm(api.w.dyeing).post("/expansions", {
        "reference": "X-1", "instrument": "COD-2025-NOWHERE", "quantity": 1, "project": "p"}),
        404)
    assert api.position() == before
    submit(api)
    problem(submit(api), 409, "already-exists")


def test_applications_are_read_by_their_enterprise_only(api: Api) -> None:
    submit(api)
    assert api.firm(api.w.dyeing).get("/expansions/GDKR-2025-0042").status_code == 200
    problem(api.firm(api.w.paper).get("/expansions/GDKR-2025-0042"), 404)
    problem(api.agency(api.w.auditor).get("/expansions/GDKR-2025-0042"), 404)
    problem(api.admin.get("/expansions/NOPE"), 404)
    assert api.firm(api.w.paper).get("/expansions").json()["total"] == 0
    assert api.firm(api.w.dyeing).get("/expansions").json()["total"] == 1
    assert api.auditor.get("/expansions").json()["items"][0]["quantity"] == 200

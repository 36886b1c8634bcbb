"""Auditors' views over HTTP: balances as of any past log position, and instrument totals."""

from __future__ import annotations

from registry.events import stored_events
from tests.support.registry_helpers import COD, Api, problem

pytest_plugins = ["tests.support.registry_world"]


def test_balances_as_of_a_position_before_the_transfer(api: Api) -> None:
    now = api.auditor.get("/audit/position").json()
    assert now["position"] == api.position() and now["ledger_size"] >= now["position"] - 5
    current = api.auditor.get("/audit/balances").json()
    assert current["as_of"] == now["position"]
    assert {(r["enterprise"], r["available"]) for r in current["items"]} == {
        (api.w.dyeing, 500), (api.w.paper, 300)}
    # one position before the seeded transfer T-1 the dyer held all 800
    registry = api.client.app.state.registry_state.registry  # type: ignore[attr-defined]
    transfer = max(p for p, e in stored_events(registry) if type(e).__name__ == "Transferred")
    before = api.auditor.get("/audit/balances", as_of=transfer - 1,
                             enterprise=api.w.dyeing).json()
    assert [(r["instrument"], r["available"]) for r in before["items"]] == [(COD, 800)]
    assert api.admin.get("/audit/balances", as_of=0).json()["items"] == []


def test_instrument_totals_add_up_to_the_units_issued(api: Api) -> None:
    totals = api.auditor.get("/audit/instruments").json()["items"]
    assert [t["instrument"] for t in totals] == [COD]
    t = totals[0]
    assert t["issued"] == 800 == sum(t[s] for s in ("available", "reserved", "consumed",
                                                     "retired", "expired", "revoked"))


def test_audit_views_are_for_auditors_and_administrators(api: Api) -> None:
    problem(api.firm(api.w.dyeing).get("/audit/balances"), 403)
    problem(api.agency(api.w.auditor).get("/audit/position"), 403)
    problem(api.anonymous.get("/audit/instruments"), 401)
    problem(api.auditor.get("/audit/balances", as_of=10**9), 422)
    problem(api.auditor.get("/audit/balances", as_of=-1), 422)
    problem(api.auditor.get("/audit/balances", enterprise="nope"), 422)

"""Sampling rounds over HTTP: an administrator opens a round and it comes back drawn from the
ledger's seed; a pass is recorded at once, a failure is a proposal that revokes the retrofit
and writes the credit records only once a second administrator approves it; bad input is a
typed problem that changes nothing; auditors read, others may not."""

from __future__ import annotations

from typing import Any

import pytest

from registry.events import stored_events
from tests.support.registry_helpers import Api, problem
from tests.support.world import sha

pytest_plugins = ["tests.support.registry_world"]


def open_round(api: Api, reference: str = "SC-2025", period: int = 2025) -> dict[str, Any]:
    r = api.admin.post("/sampling-rounds", {"reference": reference, "period": period})
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_opening_fixes_the_population_and_draws_from_the_ledger(api: Api) -> None:
    round_ = open_round(api)
    opened, effects = round_.pop("ledger"), round_.pop("effects")  # the write's answer only
    assert [(r["event"], r["subject"]) for r in (opened, *effects)] == [
        ("Opened", "SC-2025"), ("Drawn", "SC-2025")]
    assert opened["position"] < effects[0]["position"]
    registry = api.client.app.state.registry_state.registry  # type: ignore[attr-defined]
    opener = registry.users.user_by_login("gdee-admin-li").user_id  # actors are user ids
    assert round_["state"] == "drawn" and round_["opened"]["actor"] == opener
    assert [m["retrofit"] for m in round_["population"]] == ["RF-1"]
    assert [m["retrofit"] for m in round_["sample"]] == ["RF-1"]
    assert round_["sample"][0]["audit"] == "full"  # textile dyeing: a full re-audit (§14)
    assert round_["agencies"] == sorted({api.w.auditor, api.w.verifier})
    seed = round_["seed"]
    assert seed["size"] == seed["index"] + 1 and "\n\n— " in seed["checkpoint"]
    assert api.auditor.get("/sampling-rounds/SC-2025").json() == round_
    assert api.auditor.get("/sampling-rounds").json()["items"] == [round_]


def test_a_period_is_sampled_once_and_an_empty_period_not_at_all(api: Api) -> None:
    open_round(api)
    before = api.position()
    again = api.admin.post("/sampling-rounds", {"reference": "SC-2025-B", "period": 2025})
    problem(again, 409, "already-exists")
    empty = api.admin.post("/sampling-rounds", {"reference": "SC-2031", "period": 2031})
    problem(empty, 409, "invalid-state")
    redraw = api.admin.post("/sampling-rounds/SC-2025/draw")
    problem(redraw, 409, "invalid-state")
    assert api.position() == before


def test_a_failed_spot_check_revokes_and_restricts(api: Api) -> None:
    open_round(api)
    body = {"retrofit": "RF-1", "result": "fail", "findings": "online meter bypassed",
            "report_sha256": sha("SC-2025/RF-1"), "measured": {"COD": 600}}
    r = api.admin.post("/sampling-rounds/SC-2025/outcomes", body)
    assert r.status_code == 202, r.text  # one administrator's word only proposes it
    proposal = r.json()
    assert proposal["action"] == "record_sampling_outcome" and proposal["subject"] == "RF-1"
    assert api.admin.get("/retrofits/RF-1").json()["state"] == "issued"
    assert api.auditor.get("/sampling-rounds/SC-2025").json()["outcomes"] == []
    assert api.admin.get(f"/credit/agencies/{api.w.auditor}").json()["standing"] != "restricted"
    problem(api.admin.post(f"/proposals/{proposal['id']}/approve"), 403, "four-eyes-violation")
    r = api.second_admin.post(f"/proposals/{proposal['id']}/approve")
    assert r.status_code == 200, r.text
    outcome = r.json()["result"]
    assert outcome["agencies_at_fault"] == sorted({api.w.auditor, api.w.verifier})
    assert outcome["revoked"]["COD"]["lost_by_holder"] == {api.w.dyeing: 500, api.w.paper: 300}
    assert api.admin.get("/retrofits/RF-1").json()["state"] == "revoked"
    shown = api.auditor.get("/sampling-rounds/SC-2025").json()
    assert shown["state"] == "closed" and shown["outcomes"][0]["result"] == "fail"
    assert api.admin.get(f"/credit/agencies/{api.w.auditor}").json()["standing"] == "restricted"
    registry = api.client.app.state.registry_state.registry  # type: ignore[attr-defined]
    proposer = registry.users.user_by_login("gdee-admin-li").user_id
    approver = registry.users.user_by_login("gdee-admin-chen").user_id
    assert shown["outcomes"][0]["actor"] == proposer
    revoked = [e.__dict__ for _, e in stored_events(registry)
               if type(e).__qualname__.endswith("Revoked")]
    assert revoked and revoked[-1]["actor"] == proposer
    assert revoked[-1]["approved_by"] == approver


def test_a_passed_spot_check_is_recorded_at_once(api: Api) -> None:
    open_round(api)
    body = {"retrofit": "RF-1", "result": "pass", "findings": "",
            "report_sha256": sha("SC-2025/RF-1"), "measured": {"COD": 0}}
    r = api.admin.post("/sampling-rounds/SC-2025/outcomes", body)
    assert r.status_code == 201, r.text
    assert r.json()["result"] == "pass" and r.json()["agencies_at_fault"] == []
    assert api.admin.get("/retrofits/RF-1").json()["state"] == "issued"


@pytest.mark.parametrize(("change", "status", "code"), [
    ({"measured": None}, 422, "invalid-input"),  # a full audit measures
    ({"findings": ""}, 422, "invalid-input"),  # a failure states its findings
    ({"retrofit": "RF-NONE"}, 404, "not-found"),  # not in the sample
    ({"agencies_at_fault": ["91440101MA9X000771"]}, 422, "invalid-input"),
    ({"measured": {"COD": 1.5}}, 422, "invalid-request"),
    ({"result": "maybe"}, 422, "invalid-request"),
])
def test_bad_outcomes_change_nothing(api: Api, change: dict[str, Any], status: int,
                                     code: str) -> None:
    open_round(api)
    before = api.position()
    body = {"retrofit": "RF-1", "result": "fail", "findings": "meter bypassed",
            "report_sha256": sha("x"), "measured": {"COD": 600}, **change}
    problem(api.admin.post("/sampling-rounds/SC-2025/outcomes", body), status, code)
    assert api.position() == before
    assert api.admin.get("/retrofits/RF-1").json()["state"] == "issued"


def test_only_administrators_open_and_only_they_and_auditors_read(api: Api) -> None:
    body = {"reference": "SC-2025", "period": 2025}
    problem(api.firm(api.w.dyeing).post("/sampling-rounds", body), 403, "forbidden")
    problem(api.auditor.post("/sampling-rounds", body), 403, "forbidden")
    open_round(api)
    problem(api.firm(api.w.dyeing).get("/sampling-rounds/SC-2025"), 403, "forbidden")
    problem(api.agency(api.w.auditor).get("/sampling-rounds"), 403, "forbidden")

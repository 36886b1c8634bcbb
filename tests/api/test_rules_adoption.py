"""Adopting a rule version over HTTP is a four-eyes proposal: one administrator proposes, a
different one approves, and the adoption's event names both."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from registry.events import stored_events
from tests.support.exchange_world import Exchange, open_exchange

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def ex(tmp_path: Path) -> Iterator[Exchange]:
    yield from open_exchange(tmp_path)


def test_adopting_a_rule_version_needs_a_second_administrator(ex: Exchange) -> None:
    data = json.loads((ROOT / "registry/rules/GD-2023.1.json").read_text())
    ex.registry.define_rules(data={**data, "version": "GD-2026.1"}, administrator="system:test",
                             at="2026-01-05T09:00:00+08:00")
    proposer, approver = ex.token("administrator", "wang.fang"), ex.token("administrator",
                                                                           "approver.two")
    assert ex.client.post("/rules/adoptions", headers=ex.enterprise(ex.world.dyeing),
                          json={"version": "GD-2026.1"}).status_code == 403
    unknown = ex.client.post("/rules/adoptions", headers=proposer, json={"version": "GD-1999"})
    assert unknown.status_code == 422 and "GD-1999" in unknown.json()["detail"]
    r = ex.client.post("/rules/adoptions", headers=proposer,
                       json={"version": "GD-2026.1", "effective_from": "2099-01-01"})
    assert r.status_code == 202 and r.json()["action"] == "adopt_rules", r.text
    before = ex.client.get("/rules", headers=proposer).json()
    assert "GD-2026.1" in before["versions"]
    assert all(h.get("effective_from") != "2099-01-01" for h in before["history"])
    own = ex.client.post(f"/proposals/{r.json()['id']}/approve", headers=proposer)
    assert own.status_code == 403 and own.json()["type"].endswith("/four-eyes-violation")
    done = ex.client.post(f"/proposals/{r.json()['id']}/approve", headers=approver)
    assert done.status_code == 200 and done.json()["proposal"]["state"] == "approved", done.text
    after = ex.client.get("/rules", headers=ex.token("auditor", "li.wei")).json()
    assert after["history"][-1]["version"] == "GD-2026.1"
    assert after["history"][-1]["effective_from"] == "2099-01-01"
    (scheduled,) = [vars(e) for _, e in stored_events(ex.registry)
                    if type(e).__qualname__.endswith("RulesScheduled")]
    wang = ex.registry.users.user_by_login("wang.fang").user_id
    two = ex.registry.users.user_by_login("approver.two").user_id
    assert (scheduled["actor"], scheduled["approved_by"], scheduled["administrator"]) == (
        wang, two, wang)

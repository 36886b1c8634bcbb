"""The demo world: realistic, rule-abiding, conserving, deterministic — and `registry demo`
seeds only an empty store."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from cli import main
from domain.credit_code import validate_credit_code
from domain.reference import KINDS, kind_info
from registry.bootstrap import Registry, build_registry
from registry.demo import DEFAULT_START, format_summary, seed_demo
from registry.events import stored_events

SHA256 = re.compile(r"^[0-9a-f]{64}$")


@pytest.fixture(scope="module")
def seeded() -> tuple[Registry, dict[str, Any]]:
    app = build_registry({"REGISTRY_STORE": "memory"})
    return app, seed_demo(app, at_start=DEFAULT_START)


def enterprises(app: Registry) -> list[Any]:
    return [app.enterprise(c) for c in app.catalogue().entries["enterprises"]]


def test_demo_world_is_a_guangdong_world(seeded: tuple[Registry, dict[str, Any]]) -> None:
    app, _ = seeded
    firms = enterprises(app)
    assert len(firms) >= 20
    assert len({e.basin for e in firms}) >= 3
    assert len({e.prefecture for e in firms}) >= 3
    assert {"THERMAL_POWER", "TEXTILE_DYEING", "PAPER", "ELECTRONICS"} <= {e.sector
                                                                           for e in firms}
    assert {e.direct_discharger for e in firms} == {True, False}
    codes = [e.credit_code for e in firms]
    assert len(set(codes)) == len(codes)
    assert all(validate_credit_code(c) == c for c in codes)

    agencies = [app.agency(c) for c in app.catalogue().entries["agencies"]]
    assert len(agencies) == 5
    assert all(a.accreditation for a in agencies)


def test_every_kind_is_issued_through_the_full_lifecycle(
    seeded: tuple[Registry, dict[str, Any]]
) -> None:
    app, _ = seeded
    issued_kinds = {i.kind for i in app.queries.instruments() if i.issued() > 0}
    assert issued_kinds == set(KINDS)
    retrofits = [app.retrofit(r) for r in app.catalogue().entries["retrofits"]]
    assert {k for r in retrofits for k in r.kinds} == set(KINDS)
    for r in retrofits:
        assert r.verification is not None and r.confirmation is not None
        assert r.verification["agency"] not in r.audit_agencies()
        assert all(SHA256.match(h) for h in r.evidence()) and len(r.evidence()) == 3
    assert len({r.verification["agency"] for r in retrofits}) >= 3
    assert {r.state for r in retrofits} == {"issued", "confirmed", "revoked"}


def test_one_retrofit_only_meets_its_own_task(seeded: tuple[Registry, dict[str, Any]]) -> None:
    app, summary = seeded
    r = app.retrofit(summary["no_surplus"]["retrofit"])
    assert r.state == "confirmed" and r.lots == {}
    assert set(r.surplus().values()) == {0}
    assert r.confirmation["obligation_applied"] == r.verification["reductions"]


def test_per_instrument_states_sum_to_issued(seeded: tuple[Registry, dict[str, Any]]) -> None:
    app, summary = seeded
    for i in app.queries.instruments():
        assert sum(i.totals().values()) == i.issued() > 0, i.code
        held = sum(n for per in i.balances().values() for s, n in per.items() if s != "frozen")
        assert held == i.issued(), i.code
    for row in summary["instruments"]:
        states = ("available", "reserved", "consumed", "retired", "expired", "revoked")
        assert sum(row[s] for s in states) == row["issued"], row


def test_transfers_respect_the_trading_zones(seeded: tuple[Registry, dict[str, Any]]) -> None:
    """Re-check every stored transfer against the rules, independently of the domain code."""
    app, summary = seeded
    firms = {e.credit_code: e for e in enterprises(app)}
    transfers = [(e, before) for _, e in stored_events(app)
                 if type(e).__name__ == "Transferred"
                 for before in [app.repository.get(e.originator_id)]]
    assert len(transfers) == len(summary["transfers"]) >= 5
    families = set()
    for event, instrument in transfers:
        seller, buyer = firms[event.seller], firms[event.buyer]
        family = kind_info(instrument.kind).family
        families.add(family)
        assert event.rule_version == "GD-2023.1"
        if family == "water":
            assert seller.basin == buyer.basin == instrument.zone
            assert seller.direct_discharger and buyer.direct_discharger
        elif family == "air":
            assert seller.prefecture == buyer.prefecture == instrument.zone
            assert (seller.sector == "THERMAL_POWER") == (buyer.sector == "THERMAL_POWER")
        else:
            assert instrument.zone == "GD"
    assert families == {"water", "air", "energy"}
    thermal = [e for e, _ in transfers if firms[e.seller].sector == "THERMAL_POWER"]
    assert thermal, "the demo shows thermal power trading air rights with thermal power"
    assert len(summary["refused_transfers"]) >= 3


def test_one_expansion_consumed_and_one_revocation(
    seeded: tuple[Registry, dict[str, Any]]
) -> None:
    app, summary = seeded
    x = app.expansion(summary["expansion"]["reference"])
    assert x.state == "approved" and x.approval == summary["expansion"]["approval"]
    consumed = sum(i.totals()["consumed"] for i in app.queries.instruments())
    assert consumed == x.quantity > 0

    revocation = summary["revocation"]
    r = app.retrofit(revocation["retrofit"])
    assert r.state == "revoked" and r.revocation["spot_check"] == revocation["spot_check"]
    assert app.agency(revocation["restricted_agency"]).standing == "restricted"
    assert app.enterprise(revocation["enterprise"]).standing == "restricted"
    for lot in r.lots.values():
        assert app.instrument(lot["instrument"]).lots[lot["lot"]]["revoked"]
    holders = set(revocation["outcome"]["COD"]["lost_by_holder"])
    assert len(holders) == 2, "the good-faith buyer's units are clawed back too"


def test_times_advance_through_the_year_in_china_time(
    seeded: tuple[Registry, dict[str, Any]]
) -> None:
    app, summary = seeded
    times = [e.at for _, e in stored_events(app) if hasattr(e, "at")]
    assert times == sorted(times)
    assert all(t.endswith("+08:00") for t in times)
    first, last = datetime.fromisoformat(times[0]), datetime.fromisoformat(times[-1])
    assert (first.year, first.month) == (2025, 1) and (last.year, last.month) == (2025, 11)
    assert summary["position"] == app.queries.position() > 200


def test_demo_is_deterministic(seeded: tuple[Registry, dict[str, Any]]) -> None:
    _, summary = seeded
    again = seed_demo(build_registry({"REGISTRY_STORE": "memory"}), at_start=DEFAULT_START)
    assert again == summary


def test_summary_text_names_the_counts(seeded: tuple[Registry, dict[str, Any]]) -> None:
    _, summary = seeded
    text = format_summary(summary)
    for needle in ("Enterprises: 24", "Agencies: 5", "Maozhou River", "Dongguan",
                   "ENERGY-2025-GD", "Transfers: 10", "Expansion GDKR-2025-0042",
                   "Revocation: retrofit GDCP-2025-008", "Event log position",
                   "registry provenance"):
        assert needle in text, needle
    json.dumps(summary)  # the --json output


def test_demo_command_seeds_sqlite_once_and_data_persists(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    env = {"REGISTRY_DATA_DIR": str(tmp_path / "data")}  # the default store: SQLite files
    assert main(["demo"], env=env) == 0
    out, err = capsys.readouterr()
    assert "Enterprises: 24" in out and err == ""
    assert (tmp_path / "data" / "registry.sqlite").exists()
    # demo-only credentials: owner-only files in an owner-only folder, and the folder marked
    # as the demo world's (`registry token demo` runs nowhere else)
    tokens = tmp_path / "data" / "demo-tokens"
    assert tokens.stat().st_mode & 0o777 == 0o700
    assert [p.stat().st_mode & 0o777 for p in tokens.iterdir()] == [0o600, 0o600]
    assert (tmp_path / "data" / "demo-world").stat().st_mode & 0o777 == 0o600

    assert main(["demo"], env=env) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.splitlines()) == 1
    assert err.startswith("registry: error: ") and "already holds" in err

    assert main(["balances", "--json"], env=env) == 0  # a new process state, same files
    rows = json.loads(capsys.readouterr().out)
    assert {r["instrument"].split("-")[0] for r in rows} == set(KINDS)
    assert main(["provenance", "COD-2025-MAOZHOU-000000001"], env=env) == 0
    provenance = json.loads(capsys.readouterr().out)
    assert provenance["retrofit"]["reference"] == "GDCP-2025-001"
    assert len(provenance["retrofit"]["evidence"]) == 3


def test_demo_json_summary(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--json"], env={"REGISTRY_STORE": "memory"}) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["enterprises"]["total"] >= 20
    assert sum(1 for i in summary["instruments"] if i["consumed"]) == 1


def test_the_demo_shows_the_lifecycle_rules(seeded: tuple[Registry, dict[str, Any]]) -> None:
    """Sales are agreements settled DvP; the revocation ends the sale still pending on the
    revoked units and releases the buyer's cash; the freeze reaches the units in a hold; a
    task changed with its reason."""
    app, summary = seeded
    revocation = summary["revocation"]
    ended = app.exchange_modes.agreement(revocation["agreement_ended"])
    assert ended.state == "rejected" and "revoked" in ended.history[-1]["reason"]
    assert app.exchange.cash_account(ended.buyer).reserved == 0
    freeze = summary["freeze"]
    i = app.instrument(freeze["instrument"])
    assert i.reservations() == {}  # the parked units were released, then frozen
    assert i.balances()[freeze["owner"]]["frozen"] == freeze["quantity"]
    assert all(
        app.exchange_modes.agreement(t["ref"]).state == "settled" for t in summary["transfers"])
    changes = [e for _, e in stored_events(app) if type(e).__name__ == "ObligationChanged"
               and e.previous is not None]
    assert changes and all(e.reason and e.administrator for e in changes)

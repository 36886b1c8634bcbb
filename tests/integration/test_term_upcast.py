"""A store and an export made before instruments carried a term (main at f98ad41,
``tests/fixtures/export-f98ad41``) move to the term model through the upcast of
``Instrument.Opened`` (`domain.instrument.legacy_term`): their instruments read as annual
rights for vintage + 1 … vintage + 5, exactly the validity their lots were issued with; no
stored byte changes; `audit replay` of the old export still finds no mismatch, and instruments
opened from now on record their term in their own event."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from cli import main
from domain.instrument import Term, legacy_term
from domain.topics import event_topic
from registry.bootstrap import Registry, build_registry
from registry.events import stored_events
from registry.ledger_follower import LedgerFollower, LedgerSettings, open_ledger
from tests.support.world import AT, ENTERPRISES, World, code, ensure_right, issue

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "export-f98ad41"


@pytest.fixture
def old(tmp_path: Path) -> Path:
    shutil.copytree(FIXTURE, tmp_path / "old")
    (tmp_path / "old" / "registry-data" / "ledger-signing.key").chmod(0o600)
    return tmp_path / "old"


def _opened_payloads(app: Registry) -> dict[str, dict[str, object]]:
    """Instrument code -> the payload of its ``Opened`` event, as stored."""
    topic = event_topic("Instrument", "Opened")
    out = {}
    for n in app.recorder.select_notifications(1, 10_000):
        if n.topic == topic:
            payload = json.loads(n.state)
            out[f"{payload['kind']}-{payload['vintage']}-{payload['zone']}"] = payload
    return out


def _fixture_world() -> World:
    """The parties `build_world` registered in the fixture's store (their codes are fixed)."""
    firms = {key: code(n) for n, (key, *_) in enumerate(ENTERPRISES, start=1)}
    agencies = {key: code(n, prefix="91440101MA9X")
                for n, key in enumerate(("auditor", "verifier", "other_agency"), start=1)}
    return World(**firms, **agencies)


def test_an_old_store_loads_with_terms_that_keep_every_units_validity(old: Path) -> None:
    app = build_registry({"REGISTRY_DATA_DIR": str(old / "registry-data")})
    try:
        stored = _opened_payloads(app)
        assert stored and all("term" not in p for p in stored.values())  # as the old code wrote
        for code in stored:
            i = app.instrument(code)
            assert i.term == legacy_term(i.vintage) == Term(i.vintage + 1, i.vintage + 5)
            assert i.lots and all(lot["expires_on"] == i.term.ends_on for lot in i.lots.values())
            serial = f"{code}-{1:09d}"
            assert app.queries.provenance(serial)["term"] == {
                "first_year": i.vintage + 1, "last_year": i.vintage + 5,
                "ends_on": f"{i.vintage + 5}-12-31"}
        assert _opened_payloads(app) == stored  # reading rewrote nothing
    finally:
        app.close()


def test_old_export_replays_and_new_instruments_record_their_term(
        old: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data, export = old / "registry-data", old / "export"
    assert main(["--data-dir", str(data), "audit", "replay", str(export)]) == 0
    assert capsys.readouterr().out.strip().endswith("0 mismatches")
    env = {"REGISTRY_DATA_DIR": str(data)}
    app = build_registry(env)
    try:
        w = _fixture_world()
        ensure_right(app, w.dyeing, "COD")
        issue(app, w, reference="RF-2026", enterprise=w.dyeing, kind="COD", baseline=5_000,
              post=4_000, period=2026, at=AT)
        new = app.instrument("COD-2026-MAOZHOU")
        assert new.term == Term(2027, 2031)
        stored = _opened_payloads(app)
        assert stored["COD-2026-MAOZHOU"]["term"] == [2027, 2031]
        assert all("term" not in p for c, p in stored.items() if c != "COD-2026-MAOZHOU")
        assert [e for _, e in stored_events(app)]  # the whole store still decodes
        with open_ledger(LedgerSettings.from_env(env)) as ledger:
            LedgerFollower(app, ledger).catch_up()
    finally:
        app.close()
    capsys.readouterr()
    after = old / "after"
    assert main(["ledger", "export", str(after)], env=env) == 0
    assert main(["audit", "replay", str(after)], env=env) == 0
    assert capsys.readouterr().out.strip().endswith("0 mismatches")

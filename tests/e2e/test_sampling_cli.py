"""A spot-check round from the command line, and the auditor's offline re-derivation of its
sample from a ledger export: the same sample comes back, a forged one is caught (exit 1)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli import main
from domain.sampling import SamplingRound
from registry.bootstrap import build_registry
from registry.events import stored_events
from tests.support.cli_people import cli_people
from tests.support.world import AT as WORLD_AT
from tests.support.world import build_world, code, issue, sha

AT = "2026-01-10T09:00:00+08:00"
SECTORS = (("TEXTILE_DYEING", "SHENZHEN", "MAOZHOU"), ("PAPER", "DONGGUAN", "MAOZHOU"),
           ("PETROCHEMICAL", "HUIZHOU", "DANSHUI"))


def seeded(data: Path, retrofits: int = 8) -> tuple[dict[str, str], object]:
    env = {"REGISTRY_DATA_DIR": str(data)}
    app = build_registry(env)
    w = build_world(app)
    for n in range(retrofits):
        # each retrofit its own enterprise: a second retrofit of the same enterprise and kind
        # would have to start from the level verified after the first (OverlappingClaim)
        sector, city, basin = SECTORS[n % len(SECTORS)]
        owner = code(100 + n)
        app.register_enterprise(credit_code=owner, name=f"Sampled Enterprise {n}",
                                sector=sector, prefecture=city, basin=basin,
                                direct_discharger=True, at=WORLD_AT)
        issue(app, w, reference=f"RF-{n:02d}", enterprise=owner, kind="COD", baseline=900,
              post=100)
    issue(app, w, reference="RF-2024", enterprise=w.dyeing, kind="COD", baseline=900,
          post=100, period=2024)  # another period: never in the 2025 population
    app.close()
    return env, w


def run(capsys: pytest.CaptureFixture[str], env: dict[str, str],
        *argv: str) -> tuple[int, str, str]:
    status = main(list(argv), env=env)
    out, err = capsys.readouterr()
    return status, out, err


PROPOSAL = "P-00000000000005c1"


def test_round_sample_re_derives_offline_and_a_failure_revokes(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env, _ = seeded(tmp_path / "data")
    zhang, qian = cli_people(tmp_path / "data", ("administrator", "admin-zhang"),
                             ("administrator", "admin-qian"))
    env = {**env, **zhang.env()}  # the round's acts are this administrator's, by user id
    status, out, err = run(capsys, env, "sampling", "open", "SC-2025", "--period", "2025",
                           "--at", AT)
    assert status == 0, err
    round_ = json.loads(out)
    assert round_["state"] == "drawn"
    assert [m["retrofit"] for m in round_["population"]] == [f"RF-{n:02d}" for n in range(8)]
    assert len(round_["sample"]) == 2  # ceil(8 × 20%)
    assert round_["seed"]["size"] == round_["seed"]["index"] + 1

    # a second round for the period is refused and changes nothing
    status, _, err = run(capsys, env, "sampling", "open", "SC-2025-B", "--period", "2025",
                         "--at", AT)
    assert status == 2 and "already has its sampling round SC-2025" in err

    failed = round_["sample"][0]
    status, out, err = run(capsys, env, "sampling", "outcome", "SC-2025", "--retrofit",
                           failed["retrofit"], "--result", "fail", "--findings",
                           "meter bypassed", "--measured", "COD=800", "--report-sha256",
                           sha("re-audit"), "--at", AT, "--proposal-id", PROPOSAL)
    assert status == 0, err  # one administrator's word only proposes the revocation
    assert f"proposal {PROPOSAL}: record_sampling_outcome of {failed['retrofit']}" in out
    status, out, _ = run(capsys, env, "retrofit", "show", failed["retrofit"])
    assert json.loads(out)["state"] == "issued"
    status, _, err = run(capsys, env, "proposal", "approve", PROPOSAL, "--at", AT)
    assert status == 2 and "another administrator must approve" in err  # not its proposer
    status, out, err = run(capsys, {**env, **qian.env()}, "proposal", "approve", PROPOSAL,
                           "--at", AT)
    assert status == 0, err
    outcome = json.loads(out)["result"]
    assert outcome["revoked"]["COD"]["lost_by_holder"] == {failed["enterprise"]: 800}
    status, out, _ = run(capsys, env, "retrofit", "show", failed["retrofit"])
    assert json.loads(out)["state"] == "revoked"
    app = build_registry(env)
    try:  # every act of the round names the authenticated administrator by user id
        rounds = [e.__dict__ for _, e in stored_events(app)
                  if type(e).__qualname__.startswith("SamplingRound.")]
        actors = {e["actor"] for e in rounds}
        approvals = {e.get("approved_by") for e in rounds if "outcome" in e}
    finally:
        app.close()
    assert actors == {zhang.user_id}
    assert approvals == {qian.user_id}  # the failing outcome took effect through the approval

    export = tmp_path / "export"
    assert run(capsys, env, "ledger", "export", str(export))[0] == 0
    status, out, err = run(capsys, env, "audit", "sample", str(export), "--round", "SC-2025")
    assert status == 0, out + err
    assert failed["retrofit"] in out and "OK: the recorded sample" in out
    status, out, err = run(capsys, env, "audit", "replay", str(export))
    assert status == 0, out + err

    app = build_registry(env)
    try:
        assert app.enterprise(failed["enterprise"]).standing == "restricted"
        for agency in failed["agencies"]:
            assert app.agency(agency).standing == "restricted"
    finally:
        app.close()


def test_a_sample_not_drawn_from_the_ledger_seed_is_caught(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env, _ = seeded(tmp_path / "data", retrofits=10)
    app = build_registry(env)
    # an administrator who picks the seed (and so the sample) instead of taking the ledger's
    app.sampling.open_sampling_round(reference="SC-2025", period=2025, actor="admin-li", at=AT)
    r = app.repository.get(SamplingRound.create_id("SC-2025"))
    r.draw(seed_index=0, seed_root=bytes(32), checkpoint="chosen", actor="admin-li", at=AT)
    app.save(r)
    app.close()
    export = tmp_path / "export"
    assert run(capsys, env, "ledger", "export", str(export))[0] == 0
    status, out, err = run(capsys, env, "audit", "sample", str(export), "--round", "SC-2025")
    assert status == 1
    assert "DIFFER the recorded seed" in out and "does not re-derive" in err


def test_audit_sample_of_an_unknown_round_is_bad_input(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env, _ = seeded(tmp_path / "data", retrofits=1)
    export = tmp_path / "export"
    assert run(capsys, env, "ledger", "export", str(export))[0] == 0
    status, _, err = run(capsys, env, "audit", "sample", str(export), "--round", "NOPE")
    assert status == 2 and "no sampling round 'NOPE'" in err

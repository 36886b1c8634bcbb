"""Ledger and audit commands end to end: export, verify, proofs, key rotation, replay."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import pytest

from cli import main
from ledger.merkle import hash_leaf, verify_consistency, verify_inclusion
from ledger.verify import verify_export
from tests.support.world import seed_data_folder


@pytest.fixture
def data(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    seed_data_folder(folder)
    return folder


def entries(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "entries.jsonl").read_text().splitlines()]


def test_signing_key_is_created_on_first_start_with_mode_0600(data: Path) -> None:
    assert main(["--data-dir", str(data), "ledger", "vkey"]) == 0
    key = data / "ledger-signing.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600


def test_export_has_exactly_the_contract_files_and_proofs_verify(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "export"
    assert main(["--data-dir", str(data), "ledger", "export", str(out)]) == 0
    assert {"checkpoint", "vkey", "entries.jsonl"} <= {p.name for p in out.iterdir()}
    rows = entries(out)
    assert [r["index"] for r in rows] == list(range(len(rows)))
    leaf = json.loads(base64.b64decode(rows[0]["leaf"]))
    assert leaf["position"] == 1 and leaf["version"] == 1
    report = verify_export(out, vkey=(out / "vkey").read_text().strip())
    capsys.readouterr()

    size = report.size
    assert main(["--data-dir", str(data), "ledger", "proof", "inclusion", "--index", "5",
                 "--size", str(size)]) == 0
    proof = json.loads(capsys.readouterr().out)
    assert (proof["index"], proof["size"]) == (5, size)
    verify_inclusion(index=5, size=size,
                     leaf_hash=hash_leaf(base64.b64decode(rows[5]["leaf"])),
                     proof=[base64.b64decode(h) for h in proof["hashes"]], root=report.root)

    assert main(["--data-dir", str(data), "ledger", "proof", "consistency", "--old", "7",
                 "--new", str(size)]) == 0
    proof = json.loads(capsys.readouterr().out)
    assert (proof["old"], proof["new"]) == (7, size)
    from ledger.merkle import root
    verify_consistency(size1=7, size2=size,
                       root1=root([base64.b64decode(r["leaf"]) for r in rows[:7]]),
                       root2=report.root, proof=[base64.b64decode(h) for h in proof["hashes"]])


def test_proof_beyond_the_log_is_refused_with_exit_2(
    data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--data-dir", str(data), "ledger", "proof", "inclusion", "--index", "9",
                 "--size", "9"]) == 2
    assert main(["--data-dir", str(data), "ledger", "proof", "inclusion", "--index", "1",
                 "--size", "100000"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("registry: error:") for line in err)


def test_key_rotation_old_checkpoints_still_verify_with_the_old_key(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old_export, new_export = tmp_path / "old", tmp_path / "new"
    assert main(["--data-dir", str(data), "ledger", "export", str(old_export)]) == 0
    rotated = {"REGISTRY_DATA_DIR": str(data),
               "REGISTRY_LEDGER_KEY_FILE": str(tmp_path / "key-2027"),
               "REGISTRY_LEDGER_KEY_NAME": "surplus-registry.local/ledger-2027"}
    assert main(["ledger", "export", str(new_export)], env=rotated) == 0
    old_vkey, new_vkey = old_export / "vkey", new_export / "vkey"
    assert old_vkey.read_text() != new_vkey.read_text()
    capsys.readouterr()
    assert main(["ledger", "verify", str(old_export), "--vkey", str(old_vkey)]) == 0
    assert main(["ledger", "verify", str(new_export), "--vkey", str(new_vkey),
                 "--previous-checkpoint", str(old_export / "checkpoint"),
                 "--previous-vkey", str(old_vkey)]) == 0
    assert main(["ledger", "verify", str(new_export), "--vkey", str(old_vkey)]) == 1
    assert "signature" in capsys.readouterr().err


def test_verify_without_a_key_checks_self_consistency_only_and_exits_1(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "export"
    assert main(["--data-dir", str(data), "ledger", "export", str(out)]) == 0
    capsys.readouterr()
    assert main(["ledger", "verify", str(out)]) == 1
    captured = capsys.readouterr()
    key_id = "+".join((out / "vkey").read_text().strip().split("+")[:2])
    assert captured.out.startswith("SELF-CONSISTENCY ONLY:") and key_id in captured.out
    assert "no verifier key given" in captured.err
    assert not captured.out.startswith("OK")


def test_verify_prints_the_key_id_it_trusted_and_refuses_another_key(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, other = tmp_path / "export", tmp_path / "other"
    assert main(["--data-dir", str(data), "ledger", "export", str(out)]) == 0
    capsys.readouterr()
    assert main(["ledger", "verify", str(out), "--vkey", str(out / "vkey")]) == 0
    key_id = "+".join((out / "vkey").read_text().strip().split("+")[:2])
    assert f"trusted key: {key_id}" in capsys.readouterr().out
    # an export signed by another key verifies only against that key, never against ours
    other_env = {"REGISTRY_DATA_DIR": str(tmp_path / "data2")}
    seed_data_folder(tmp_path / "data2")
    assert main(["ledger", "export", str(other)], env=other_env) == 0
    assert main(["ledger", "verify", str(other), "--vkey", str(out / "vkey")]) == 1
    assert main(["ledger", "verify", str(other)]) == 1


def test_audit_replay_reconciles_an_export_with_the_live_registry(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "export"
    assert main(["--data-dir", str(data), "ledger", "export", str(out)]) == 0
    capsys.readouterr()
    assert main(["--data-dir", str(data), "audit", "replay", str(out)]) == 0
    text = capsys.readouterr().out
    assert "0 mismatches" in text and "1 instruments" in text


def test_audit_replay_lists_every_mismatch_and_exits_1(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "export"
    assert main(["--data-dir", str(data), "ledger", "export", str(out)]) == 0
    rows = entries(out)
    last = json.loads(base64.b64decode(rows[-1]["leaf"]))
    assert last["topic"].endswith("Transferred.v1")
    last["payload"]["buyer"] = last["payload"]["seller"]  # the export now disagrees
    last["payload"]["moves"] = []
    rows[-1]["leaf"] = base64.b64encode(json.dumps(last).encode()).decode()
    (out / "entries.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    capsys.readouterr()
    assert main(["--data-dir", str(data), "audit", "replay", str(out)]) == 1
    text = capsys.readouterr().out
    assert "MISMATCH Instrument" in text and "MISMATCH balance" in text


def test_parallel_replay_rebuilds_the_same_state_as_a_single_process(
    data: Path, tmp_path: Path
) -> None:
    from registry.audit import replay_export
    from registry.replay import comparable

    out = tmp_path / "export"
    assert main(["--data-dir", str(data), "ledger", "export", str(out)]) == 0
    single = replay_export(out, workers=1)
    split = replay_export(out, workers=2)
    assert split.position == single.position
    assert {k: comparable(v) for k, v in split.aggregates.items()} == {
        k: comparable(v) for k, v in single.aggregates.items()}

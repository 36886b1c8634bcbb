"""Stored events and leaves are a contract: an export and a ledger made before leaf format 2
(main at f98ad41, ``tests/fixtures/export-f98ad41``) still verify and replay, and the ledger
continues in format 2 without rewriting a byte of its history."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import pytest

from cli import main
from domain.agency import Agency
from loadtests.bench_replay import write_export
from registry.audit import replay_export
from registry.bootstrap import build_registry
from registry.leaves import leaf_format
from registry.ledger_follower import (
    LedgerFollower,
    LedgerSettings,
    find_format_2_start,
    open_ledger,
)

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "export-f98ad41"
OLD_SIZE = 58


@pytest.fixture
def old(tmp_path: Path) -> Path:
    shutil.copytree(FIXTURE, tmp_path / "old")
    # the old release created its signing key 0600 (`ledger.keys`); git keeps no such mode, and
    # a key others can read is refused, so the copy gets back the mode it was made with
    (tmp_path / "old" / "registry-data" / "ledger-signing.key").chmod(0o600)
    return tmp_path / "old"


def formats(export: Path) -> list[int]:
    return [leaf_format(json.loads(base64.b64decode(json.loads(line)["leaf"])))
            for line in (export / "entries.jsonl").read_text().splitlines()]


def test_an_export_of_format_1_leaves_still_verifies_and_replays(
        old: Path, capsys: pytest.CaptureFixture[str]) -> None:
    export, data = old / "export", old / "registry-data"
    assert set(formats(export)) == {1} and len(formats(export)) == OLD_SIZE
    assert main(["ledger", "verify", str(export), "--vkey", str(export / "vkey")]) == 0
    assert main(["--data-dir", str(data), "audit", "replay", str(export)]) == 0
    assert capsys.readouterr().out.strip().endswith("0 mismatches")
    assert main(["audit", "matching", str(export)]) == 0
    assert capsys.readouterr().out.strip().endswith(" 0 differ")


def test_an_old_ledger_continues_in_format_2_and_its_history_still_verifies(
        old: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data, before, after = old / "registry-data", old / "export", old / "after"
    env = {"REGISTRY_DATA_DIR": str(data)}
    app = build_registry(env)
    app.exchange.deposit(enterprise="91440300MA5F00001A", amount=1000, reference="BANK-COMPAT-1",
                         administrator="admin-cash", at="2025-03-02T09:00:00+08:00")
    with open_ledger(LedgerSettings.from_env(env)) as ledger:
        assert find_format_2_start(ledger) == OLD_SIZE  # the next leaf is the first of format 2
        LedgerFollower(app, ledger).catch_up()
        assert ledger.size > OLD_SIZE and ledger.signed_size == ledger.size
        assert find_format_2_start(ledger) == OLD_SIZE
    app.close()
    capsys.readouterr()
    assert main(["ledger", "export", str(after)], env=env) == 0
    found = formats(after)
    assert found[:OLD_SIZE] == [1] * OLD_SIZE and set(found[OLD_SIZE:]) == {2}
    old_lines = (before / "entries.jsonl").read_text().splitlines()
    assert (after / "entries.jsonl").read_text().splitlines()[:OLD_SIZE] == old_lines
    assert main(["ledger", "verify", str(after), "--vkey", str(before / "vkey"),
                 "--previous-checkpoint", str(before / "checkpoint")]) == 0
    assert main(["audit", "replay", str(after)], env=env) == 0
    assert capsys.readouterr().out.strip().endswith("0 mismatches")


def test_the_replay_skips_a_leafs_subjects_unparsed_and_keeps_a_payload_that_looks_alike(
        tmp_path: Path) -> None:
    """The replay cuts a format-2 leaf's ``subjects`` out of its bytes before parsing (it
    rebuilds from the payload alone); a payload holding the same bytes in a string, or its own
    ``subjects`` key, comes through whole."""
    tricky = 'x],"timestamp":"y ,"subjects":[ z'
    agency = Agency.register(credit_code="91440101MA9X000008", name=tricky,
                             at="2025-06-01T10:00:00+08:00")
    events = agency.collect_events()
    write_export(events, tmp_path)
    line = json.loads((tmp_path / "entries.jsonl").read_text().splitlines()[0])
    leaf = json.loads(base64.b64decode(line["leaf"]))
    assert leaf["subjects"] == [{"id": "91440101MA9X000008", "type": "agency"}]
    (rebuilt,) = replay_export(tmp_path, workers=1).aggregates.values()
    assert rebuilt.name == tricky and rebuilt.credit_code == "91440101MA9X000008"

"""Tampering with the SQLite event store is caught by `registry ledger verify`, naming the index.

An auditor keeps a checkpoint from an earlier export. The operator then edits the store: one
byte of one event, one event deleted, two events swapped. A new export re-derives its entries
from the store; verification against the kept checkpoint fails and names the first bad leaf.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from cli import main
from registry.bootstrap import build_registry
from tests.support.store_tampering import (
    Tamper,
    break_encoding,
    delete_one,
    flip_one_byte,
    swap_two,
)
from tests.support.world import seed_data_folder

TARGET = 12  # log position (SQLite rowid) of the event to tamper with: leaf index 11


@pytest.mark.parametrize("tamper", [flip_one_byte, break_encoding, delete_one, swap_two])
def test_tampered_store_is_detected_naming_the_index(
    tamper: Tamper, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data, before, after = tmp_path / "data", tmp_path / "before", tmp_path / "after"
    seed_data_folder(data)
    assert main(["--data-dir", str(data), "ledger", "export", str(before)]) == 0
    kept = tmp_path / "kept-checkpoint"
    kept.write_bytes((before / "checkpoint").read_bytes())
    vkey = tmp_path / "vkey"
    vkey.write_bytes((before / "vkey").read_bytes())
    assert main(["ledger", "verify", str(before), "--vkey", str(vkey)]) == 0

    with sqlite3.connect(data / "registry.sqlite") as db:
        tamper(db, TARGET)
    capsys.readouterr()

    assert main(["--data-dir", str(data), "ledger", "export", str(after)]) == 0
    status = main(["ledger", "verify", str(after), "--vkey", str(vkey),
                   "--previous-checkpoint", str(kept)])
    err = capsys.readouterr().err
    assert status == 1
    assert err.startswith("registry: error: verification failed:")
    assert f"at index {TARGET - 1}" in err
    assert len(err.strip().splitlines()) == 1


def test_untampered_store_reexports_consistently(tmp_path: Path) -> None:
    data = tmp_path / "data"
    seed_data_folder(data)
    assert main(["--data-dir", str(data), "ledger", "export", str(tmp_path / "one")]) == 0
    app = build_registry({"REGISTRY_DATA_DIR": str(data)})
    dyeing, paper = app.catalogue().entries["enterprises"][:2]
    app.holdings.transfer(instrument="COD-2025-MAOZHOU", seller=paper, buyer=dyeing, quantity=1,
                          ref="T-2", at="2025-05-01T10:00:00+08:00",
                          reason="correction", administrator="admin-t")
    app.close()
    assert main(["--data-dir", str(data), "ledger", "export", str(tmp_path / "two")]) == 0
    assert main(["ledger", "verify", str(tmp_path / "two"), "--vkey",
                 str(tmp_path / "one" / "vkey"), "--previous-checkpoint",
                 str(tmp_path / "one" / "checkpoint")]) == 0

"""Export round trip and offline verification, including tampered exports."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.export import ENTRIES, LEAF_HASHES, export_ledger, format_entry
from ledger.log import Ledger
from ledger.note import Signer
from ledger.verify import ExportVerificationError, verify_export

ORIGIN = "registry.example/ledger"
SIGNER = Signer.from_seed(key_name=ORIGIN, seed=bytes(32))
N = 300


def _leaf(i: int) -> bytes:
    return b'{"event":"UnitsTransferred","position":%d,"qty_kg":%d}' % (i, i * 7)


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    with Ledger(tmp_path / "data", origin=ORIGIN, signer=SIGNER) as opened:
        opened.append_many([_leaf(i) for i in range(N)])
        yield opened


@pytest.fixture
def export(ledger: Ledger, tmp_path: Path) -> Path:
    export_ledger(ledger, tmp_path / "export")
    return tmp_path / "export"


def _lines(export: Path) -> list[str]:
    return (export / ENTRIES).read_text().splitlines(keepends=True)


def _write(export: Path, lines: list[str]) -> None:
    (export / ENTRIES).write_text("".join(lines))


def _failure(export: Path, **kwargs: object) -> ExportVerificationError:
    with pytest.raises(ExportVerificationError) as err:
        verify_export(export, vkey=SIGNER.vkey, **kwargs)  # type: ignore[arg-type]
    return err.value


def test_round_trip_verifies_every_entry(export: Path, ledger: Ledger) -> None:
    seen: list[int] = []
    report = verify_export(export, vkey=SIGNER.vkey, progress=seen.append)
    assert (report.size, report.root, report.origin) == (N, ledger.root(), ORIGIN)
    assert not report.vkey_from_export and seen[-1] == N
    assert json.loads(_lines(export)[5]) == {
        "index": 5,
        "leaf": base64.b64encode(_leaf(5)).decode(),
    }


def test_export_folder_alone_is_enough_but_the_report_says_so(export: Path) -> None:
    assert verify_export(export).vkey_from_export


def test_decoded_view_is_carried_but_ignored(ledger: Ledger, tmp_path: Path) -> None:
    export_ledger(ledger, tmp_path / "x", decode=lambda i, leaf: json.loads(leaf))
    line = json.loads(_lines(tmp_path / "x")[3])
    assert line["position"] == 3 and line["index"] == 3
    assert verify_export(tmp_path / "x", vkey=SIGNER.vkey).size == N
    with pytest.raises(ValueError):
        format_entry(0, b"", {"leaf": "shadow"})


def test_empty_log_exports_and_verifies(tmp_path: Path) -> None:
    with Ledger(tmp_path / "d", origin=ORIGIN, signer=SIGNER) as empty:
        export_ledger(empty, tmp_path / "e")
    assert verify_export(tmp_path / "e", vkey=SIGNER.vkey).size == 0


def _flip_leaf_byte(export: Path, index: int) -> None:
    lines = _lines(export)
    entry = json.loads(lines[index])
    leaf = bytearray(base64.b64decode(entry["leaf"]))
    leaf[len(leaf) // 2] ^= 0x01
    lines[index] = format_entry(index, bytes(leaf)).decode()
    _write(export, lines)


def test_flipped_leaf_byte_is_named_by_index(export: Path) -> None:
    _flip_leaf_byte(export, 137)
    err = _failure(export)
    assert (err.check, err.index) == ("root", 137)


def test_flipped_leaf_byte_without_sidecar_fails_the_root_check(export: Path) -> None:
    _flip_leaf_byte(export, 137)
    (export / LEAF_HASHES).unlink()
    err = _failure(export)
    assert (err.check, err.index) == ("root", None)


def test_forged_sidecar_is_not_trusted(export: Path) -> None:
    _flip_leaf_byte(export, 137)
    sidecar = bytearray((export / LEAF_HASHES).read_bytes())
    sidecar[0] ^= 1
    (export / LEAF_HASHES).write_bytes(bytes(sidecar))
    assert _failure(export).index is None


def test_deleted_line_is_named_by_index(export: Path) -> None:
    lines = _lines(export)
    del lines[42]
    _write(export, lines)
    err = _failure(export)
    assert (err.check, err.index) == ("index", 42)


def test_swapped_lines_are_named_by_index(export: Path) -> None:
    lines = _lines(export)
    lines[10], lines[11] = lines[11], lines[10]
    _write(export, lines)
    err = _failure(export)
    assert (err.check, err.index) == ("index", 10)


def test_swapped_leaves_with_renumbered_indexes_fail_the_root(export: Path) -> None:
    lines = _lines(export)
    a, b = json.loads(lines[10]), json.loads(lines[11])
    lines[10] = format_entry(10, base64.b64decode(b["leaf"])).decode()
    lines[11] = format_entry(11, base64.b64decode(a["leaf"])).decode()
    _write(export, lines)
    err = _failure(export)
    assert (err.check, err.index) == ("root", 10)


def test_truncated_and_extended_exports_are_refused(export: Path) -> None:
    lines = _lines(export)
    _write(export, lines[:-1])
    assert (_failure(export).check, _failure(export).index) == ("index", N - 1)
    _write(export, [*lines, format_entry(N, b"extra").decode()])
    assert (_failure(export).check, _failure(export).index) == ("index", N)


@pytest.mark.parametrize(
    "bad_line",
    [
        "\n",
        "[0, 1]\n",
        '{"index": 7, "leaf": "not base64!"}\n',
        '{"index": 7, "leaf": "YR=="}\n',  # non-canonical base64
        '{"index": 7, "leaf": "YQ==", "leaf": "Yg=="}\n',  # duplicate key
        '{"index": 07, "leaf": "YQ=="}\n',
        '{"index": 7.0, "leaf": "YQ=="}\n',
        '{"index": true, "leaf": "YQ=="}\n',
        '{"index": 7, "leaf": NaN}\n',
        '{"index": 7}\n',
    ],
)
def test_malformed_line_is_named_by_index(export: Path, bad_line: str) -> None:
    lines = _lines(export)
    lines[7] = bad_line
    _write(export, lines)
    err = _failure(export)
    assert err.index == 7 and err.check in {"entry", "index"}


def test_other_spellings_of_a_valid_line_are_accepted(export: Path) -> None:
    lines = _lines(export)
    entry = json.loads(lines[7])
    lines[7] = json.dumps({"leaf": entry["leaf"], "index": 7, "note": "é"}, indent=None) + "\r\n"
    lines[-1] = lines[-1].rstrip("\n")  # no final newline
    _write(export, lines)
    assert verify_export(export, vkey=SIGNER.vkey).size == N


def test_wrong_key_or_edited_checkpoint_fails_the_signature(export: Path) -> None:
    other = Signer.generate(key_name=ORIGIN)
    with pytest.raises(ExportVerificationError) as err:
        verify_export(export, vkey=other.vkey)
    assert err.value.check == "signature"
    text = (export / "checkpoint").read_text()
    (export / "checkpoint").write_text(text.replace(f"\n{N}\n", f"\n{N - 1}\n"))
    assert _failure(export).check == "signature"


def test_previous_checkpoint_must_be_a_prefix(ledger: Ledger, tmp_path: Path) -> None:
    earlier = ledger.checkpoint()
    ledger.append_many([_leaf(i) for i in range(N, N + 50)])
    export_ledger(ledger, tmp_path / "later")
    report = verify_export(tmp_path / "later", vkey=SIGNER.vkey, previous_checkpoint=earlier)
    assert report.previous_size == N and report.size == N + 50
    _flip_leaf_byte(tmp_path / "later", 20)
    err = _failure(tmp_path / "later", previous_checkpoint=earlier)
    assert (err.check, err.index) == ("consistency", 20)


def test_previous_checkpoint_of_a_forked_log_is_detected(tmp_path: Path, export: Path) -> None:
    with Ledger(tmp_path / "fork", origin=ORIGIN, signer=SIGNER) as fork:
        fork.append_many([_leaf(i) for i in range(100)] + [b"forked"])
        forked = fork.checkpoint()
    assert _failure(export, previous_checkpoint=forked).check == "consistency"


def test_previous_checkpoint_larger_than_the_export_is_a_rollback(
    ledger: Ledger, export: Path
) -> None:
    ledger.append(b"one more")
    assert _failure(export, previous_checkpoint=ledger.checkpoint()).check == "previous-size"


def test_previous_checkpoint_of_another_log_is_refused(tmp_path: Path, export: Path) -> None:
    with Ledger(tmp_path / "o", origin="other.example/log", signer=SIGNER) as other:
        other.append(b"x")
        note = other.checkpoint()
    assert _failure(export, previous_checkpoint=note).check == "previous-origin"


def test_missing_files_are_reported(tmp_path: Path) -> None:
    with pytest.raises(ExportVerificationError) as err:
        verify_export(tmp_path / "nothing-here", vkey=SIGNER.vkey)
    assert err.value.check == "files"

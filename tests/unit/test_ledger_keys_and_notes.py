"""Signing keys on disk, key rotation, and signed-note behaviour beyond the vectors."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from ledger.checkpoint import Checkpoint, CheckpointFormatError, parse_checkpoint, verify_checkpoint
from ledger.export import export_ledger
from ledger.keys import KeyFileError, load_key, load_or_create_key
from ledger.log import Ledger
from ledger.merkle import VerificationError
from ledger.note import Signer, parse_vkey, sign_note, verify_note
from ledger.verify import ExportVerificationError, verify_export

ORIGIN = "registry.example/ledger"


def test_key_is_created_once_with_mode_0600_and_reloaded(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "ledger.key"
    first = load_or_create_key(path, key_name="registry.example/ledger-2025")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = load_or_create_key(path, key_name="registry.example/ledger-2025")
    assert again.vkey == first.vkey
    assert parse_vkey(first.vkey).name == "registry.example/ledger-2025"
    assert [p.name for p in path.parent.iterdir()] == ["ledger.key"]  # no temp file left


def test_existing_key_file_wins_a_creation_race(tmp_path: Path) -> None:
    path = tmp_path / "ledger.key"
    other = Signer.generate(key_name="k")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, other.skey().encode())
    os.close(fd)
    assert load_or_create_key(path, key_name="k").vkey == other.vkey


def test_key_file_for_another_name_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ledger.key"
    load_or_create_key(path, key_name="old-name")
    with pytest.raises(KeyFileError):
        load_key(path, key_name="new-name")


def test_group_readable_key_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ledger.key"
    load_or_create_key(path, key_name="k")
    path.chmod(0o640)
    with pytest.raises(KeyFileError):
        load_key(path, key_name="k")


def test_malformed_key_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ledger.key"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, b"PRIVATE+KEY+k+00000000+AAAA\n")
    os.close(fd)
    with pytest.raises(KeyFileError):
        load_key(path, key_name="k")


def test_key_rotation_keeps_old_checkpoints_verifiable(tmp_path: Path) -> None:
    old_key = load_or_create_key(tmp_path / "ledger-2024.key", key_name="registry.example/2024")
    with Ledger(tmp_path / "data", origin=ORIGIN, signer=old_key) as ledger:
        ledger.append_many([b"a", b"b", b"c"])
        old_note = ledger.checkpoint()
    new_key = load_or_create_key(tmp_path / "ledger-2025.key", key_name="registry.example/2025")
    with Ledger(tmp_path / "data", origin=ORIGIN, signer=new_key) as ledger:
        ledger.append(b"d")
        new_note = ledger.checkpoint()
        export_ledger(ledger, tmp_path / "export")
    assert verify_checkpoint(note=old_note, vkey=old_key.vkey).size == 3
    assert verify_checkpoint(note=new_note, vkey=new_key.vkey).size == 4
    for note, wrong in ((old_note, new_key.vkey), (new_note, old_key.vkey)):
        with pytest.raises(VerificationError):
            verify_checkpoint(note=note, vkey=wrong)
    report = verify_export(
        tmp_path / "export",
        vkey=new_key.vkey,
        previous_checkpoint=old_note,
        previous_vkey=old_key.vkey,
    )
    assert report.previous_size == 3 and report.key_name == "registry.example/2025"
    with pytest.raises(ExportVerificationError) as err:
        verify_export(tmp_path / "export", vkey=new_key.vkey, previous_checkpoint=old_note)
    assert err.value.check == "previous-signature"


def test_note_with_two_signers_verifies_with_either_key() -> None:
    a, b = Signer.generate(key_name="a.example"), Signer.generate(key_name="b.example")
    note = sign_note(text="hello\n", signers=[a, b])
    assert verify_note(note=note, vkeys=[b.vkey]).verified_by == ("b.example",)
    assert verify_note(note=note, vkeys=[a.vkey, b.vkey]).verified_by == ("a.example", "b.example")


def test_bad_signature_from_a_known_key_rejects_despite_another_good_one() -> None:
    a, b = Signer.generate(key_name="a.example"), Signer.generate(key_name="b.example")
    good = sign_note(text="hello\n", signers=[a])
    forged_line = b.signature_line("something else\n")
    with pytest.raises(VerificationError):
        verify_note(note=good + forged_line, vkeys=[a.vkey, b.vkey])
    assert verify_note(note=good + forged_line, vkeys=[a.vkey]).verified_by == ("a.example",)


@pytest.mark.parametrize("text", ["no newline", "tab\there\n", "del\x7f\n", ""])
def test_unsignable_text_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        sign_note(text=text, signers=[Signer.generate(key_name="k")])


@pytest.mark.parametrize(
    "vkey",
    ["", "name", "name+", "na me+00000000+AAAA", "k+ZZZZZZZZ+AAAA", "k+0000000+AAAA"],
)
def test_malformed_vkeys_are_refused(vkey: str) -> None:
    with pytest.raises(ValueError):
        parse_vkey(vkey)


def test_uppercase_key_hash_is_refused() -> None:
    vkey = Signer.generate(key_name="k").vkey
    name, key_hash, key = vkey.split("+", 2)
    if key_hash != key_hash.upper():
        with pytest.raises(ValueError):
            parse_vkey(f"{name}+{key_hash.upper()}+{key}")


def test_checkpoint_body_round_trip_with_extensions() -> None:
    cp = Checkpoint("o", 7, bytes(32), ("ext one", "ext two"))
    assert parse_checkpoint(cp.body()) == cp
    with pytest.raises(CheckpointFormatError):
        Checkpoint("o", 7, bytes(31)).body()
    with pytest.raises(CheckpointFormatError):
        parse_checkpoint("o\n18446744073709551616\n" + "A" * 43 + "=\n")

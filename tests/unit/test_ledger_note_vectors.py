"""Known-answer tests from tests/vectors/signed_note_vectors.json (every section)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from ledger.checkpoint import (
    CheckpointFormatError,
    parse_checkpoint,
    verify_checkpoint,
)
from ledger.merkle import VerificationError
from ledger.note import (
    ALG_COSIGNATURE_V1,
    Signer,
    format_vkey,
    parse_vkey,
    sign_note,
    verify_note,
)
from ledger.sth import verify_sth

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "signed_note_vectors.json"
DATA: dict[str, Any] = json.loads(VECTORS.read_text())


@pytest.mark.parametrize("vec", DATA["vkeys"], ids=lambda v: v["id"])
def test_vkey_vector(vec: dict[str, Any]) -> None:
    if vec["valid"]:
        verifier = parse_vkey(vec["vkey"])
        assert verifier.vkey == vec["vkey"]  # round trip is byte for byte
    else:
        with pytest.raises(ValueError):
            parse_vkey(vec["vkey"])


@pytest.mark.parametrize("vec", DATA["notes"], ids=lambda v: v["id"])
def test_note_vector(vec: dict[str, Any]) -> None:
    if vec["valid"]:
        verified = verify_note(note=vec["note"], vkeys=vec["vkeys"])
        assert vec["note"].startswith(verified.text)
        if "expect_verified_by" in vec:
            assert list(verified.verified_by) == vec["expect_verified_by"]
    else:
        with pytest.raises(VerificationError):
            verify_note(note=vec["note"], vkeys=vec["vkeys"])


def test_unknown_signature_is_reported_as_unverified() -> None:
    vec = next(v for v in DATA["notes"] if v["id"] == "gomod-peter-only-known")
    verified = verify_note(note=vec["note"].encode(), vkeys=vec["vkeys"])
    assert [s.name for s in verified.unverified] == ["EnochRoot"]


@pytest.mark.parametrize("vec", DATA["signing"], ids=lambda v: v["id"])
def test_signing_reproduces_published_note_byte_for_byte(vec: dict[str, Any]) -> None:
    signer = Signer.from_seed(key_name=vec["name"], seed=bytes.fromhex(vec["seed_hex"]))
    assert signer.public_key.hex() == vec["pubkey_hex"]
    assert sign_note(text=vec["text"], signers=[signer]) == vec["expected_note"]
    assert Signer.from_skey(signer.skey()).vkey == signer.vkey


@pytest.mark.parametrize("vec", DATA["checkpoints"], ids=lambda v: v["id"])
def test_checkpoint_body_vector(vec: dict[str, Any]) -> None:
    strict = vec.get("strict_root_len", False)
    if not vec["valid"]:
        with pytest.raises(CheckpointFormatError):
            parse_checkpoint(vec["text"], strict_root_len=strict)
        return
    cp = parse_checkpoint(vec["text"], strict_root_len=strict)
    assert cp.size == vec["size"]
    if "origin" in vec:
        assert cp.origin == vec["origin"]
    if "root_hex" in vec:
        assert cp.root.hex() == vec["root_hex"]
    if not strict:  # our default is strict: non-32-byte roots are refused
        with pytest.raises(CheckpointFormatError):
            parse_checkpoint(vec["text"])


def test_real_sumdb_checkpoint_verifies_as_checkpoint() -> None:
    vec = next(v for v in DATA["notes"] if v["id"] == "sumdb-real-checkpoint-2024-09-23")
    cp = verify_checkpoint(note=vec["note"], vkey=vec["vkeys"][0], origin="go.sum database tree")
    assert cp.size == 30055305
    with pytest.raises(VerificationError):
        verify_checkpoint(note=vec["note"], vkey=vec["vkeys"][0], origin="other")


def _cosigner_vkey(vec: dict[str, Any]) -> str:
    return format_vkey(vec["cosigner_name"], bytes.fromhex(vec["pubkey_hex"]), ALG_COSIGNATURE_V1)


@pytest.mark.parametrize("vec", DATA["cosignatures"], ids=lambda v: v["id"])
def test_cosignature_vector(vec: dict[str, Any]) -> None:
    vkey = _cosigner_vkey(vec)
    if vec["valid"]:
        verified = verify_note(note=vec["note"], vkeys=[vkey])
        assert verified.cosignature_times == {vec["cosigner_name"]: vec["timestamp"]}
    else:
        with pytest.raises(VerificationError):
            verify_note(note=vec["note"], vkeys=[vkey])


def test_cosigner_key_cannot_stand_in_for_the_log_key() -> None:
    vec = DATA["cosignatures"][0]
    with pytest.raises(VerificationError):
        verify_checkpoint(note=vec["note"], vkey=_cosigner_vkey(vec))


def test_c2sp_cosignature_message_example_shape() -> None:
    message = DATA["c2sp_cosignature_message_example"]["message"]
    header, _, body = message.partition("\n")
    assert header == "cosignature/v1"
    time_line, _, checkpoint_text = body.partition("\n")
    assert time_line == "time 1679315147"
    assert parse_checkpoint(checkpoint_text).size == 20852163


@pytest.mark.parametrize("vec", DATA["rfc6962_sth"], ids=lambda v: v["id"])
def test_rfc6962_sth_vector(vec: dict[str, Any]) -> None:
    def check() -> None:
        verify_sth(
            public_key_der=base64.b64decode(vec["log_key_der_b64"]),
            timestamp=vec["timestamp"],
            tree_size=vec["tree_size"],
            root=bytes.fromhex(vec["sha256_root_hash_hex"]),
            signature=bytes.fromhex(vec["tree_head_signature_hex"]),
        )

    if vec["valid"]:
        check()
    else:
        with pytest.raises(VerificationError):
            check()


def test_every_section_of_the_vector_file_is_exercised() -> None:
    assert set(DATA) == {
        "format",
        "description",
        "conventions",
        "vkeys",
        "notes",
        "signing",
        "checkpoints",
        "cosignatures",
        "rfc6962_sth",
        "c2sp_cosignature_message_example",
    }

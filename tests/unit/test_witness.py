"""C2SP tlog-witness and cosignature/v1: the witness cosigns only trees that extend the one it
holds, and a registry that shows two different trees is caught."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from ledger.log import Ledger
from ledger.merkle import VerificationError
from ledger.note import Signer
from ledger.witness import (
    Cosigner,
    QuorumError,
    Witness,
    add_checkpoint_body,
    cosigned_by,
    verify_quorum,
)

VECTORS = json.loads((Path(__file__).parents[1] / "vectors" / "signed_note_vectors.json")
                     .read_text())
ORIGIN = "example.org/registry"
LOG_SEED = b"\x05" * 32


def test_cosigning_reproduces_the_published_cosignature_byte_for_byte() -> None:
    vector = next(v for v in VECTORS["cosignatures"] if v["valid"])
    cosigner = Cosigner.from_seed(name=vector["cosigner_name"], seed=b"\x11" + b"\x00" * 31)
    assert cosigner.public_key.hex() == vector["pubkey_hex"]
    body, _, sigs = vector["note"].partition("\n\n")
    assert cosigner.cosignature_line(body + "\n", vector["timestamp"]) == sigs
    assert cosigned_by(vector["note"], [cosigner.vkey]) == [vector["cosigner_name"]]


def log(tmp_path: Path, name: str, leaves: list[bytes]) -> Ledger:
    ledger = Ledger(tmp_path / name, origin=ORIGIN,
                    signer=Signer.from_seed(key_name=ORIGIN, seed=LOG_SEED))
    ledger.append_many(leaves)
    return ledger


@pytest.fixture
def witness(tmp_path: Path) -> Witness:
    vkey = Signer.from_seed(key_name=ORIGIN, seed=LOG_SEED).vkey
    return Witness(Cosigner.from_seed(name="gdee.example/witness", seed=b"\x21" * 32),
                   {ORIGIN: [vkey]}, tmp_path / "witness.json", clock=lambda: 1_700_000_000)


def submit(witness: Witness, ledger: Ledger, old: int) -> tuple[int, str, str]:
    note = ledger.checkpoint()
    proof = ledger.consistency_proof(old) if old else []
    answer = witness.add_checkpoint(add_checkpoint_body(old_size=old, proof=proof, note=note))
    return answer.status, answer.body, note


def test_the_witness_cosigns_a_tree_that_extends_the_one_it_holds(
        witness: Witness, tmp_path: Path) -> None:
    ledger = log(tmp_path, "log", [b"a", b"b", b"c"])
    status, line, note = submit(witness, ledger, 0)
    assert status == 200 and line.startswith("— gdee.example/witness ")
    assert verify_quorum(note + line, [witness.cosigner.vkey], 1) == ["gdee.example/witness"]
    ledger.append_many([b"d", b"e"])
    status, line, note = submit(witness, ledger, 3)
    assert status == 200 and witness.latest(ORIGIN) == (5, ledger.root())
    assert submit(witness, ledger, 3)[:2] == (409, "5\n")  # it holds 5 now, not 3
    assert submit(witness, ledger, 5)[0] == 200  # the same tree again


def test_a_split_view_is_caught(witness: Witness, tmp_path: Path) -> None:
    """The registry shows tree A to the witness (and so to one client) and a different tree B
    of the same key to another client: B can never get the witness's cosignature, so a client
    requiring one refuses B."""
    honest = log(tmp_path, "a", [b"a", b"b", b"c"])
    status, line, note_a = submit(witness, honest, 0)
    assert status == 200
    forked = log(tmp_path, "b", [b"a", b"X", b"c", b"d"])  # rewrites leaf 1, same signing key
    note_b = forked.checkpoint()
    # the fork cannot prove it extends the cosigned tree of 3
    bogus = forked.consistency_proof(3)
    answer = witness.add_checkpoint(add_checkpoint_body(old_size=3, proof=bogus, note=note_b))
    assert answer.status == 422
    same_size = log(tmp_path, "c", [b"a", b"X", b"c"])
    answer = witness.add_checkpoint(add_checkpoint_body(
        old_size=3, proof=[], note=same_size.checkpoint()))
    assert answer.status == 422
    assert witness.latest(ORIGIN) == (3, honest.root())
    verify_quorum(note_a + line, [witness.cosigner.vkey], 1)
    with pytest.raises(QuorumError, match="0 of the named witnesses"):
        verify_quorum(note_b, [witness.cosigner.vkey], 1)
    # nor can the witness's line for A be moved onto B: it signs A's body, not B's
    with pytest.raises(VerificationError, match="invalid signature"):
        cosigned_by(note_b + line, [witness.cosigner.vkey])


@pytest.mark.parametrize(("body", "status"), [
    ("old 0\n\nnot a note", 400),
    ("old 01\n\n", 400),
])
def test_malformed_requests_are_400(witness: Witness, body: str, status: int) -> None:
    assert witness.add_checkpoint(body).status == status


def test_unknown_logs_and_foreign_signatures_are_refused(witness: Witness,
                                                        tmp_path: Path) -> None:
    other = Ledger(tmp_path / "o", origin="other.example/log",
                   signer=Signer.from_seed(key_name="other.example/log", seed=b"\x06" * 32))
    other.append(b"x")
    assert witness.add_checkpoint(add_checkpoint_body(
        old_size=0, proof=[], note=other.checkpoint())).status == 404
    impostor = Ledger(tmp_path / "i", origin=ORIGIN,
                      signer=Signer.from_seed(key_name=ORIGIN, seed=b"\x09" * 32))
    impostor.append(b"x")
    assert witness.add_checkpoint(add_checkpoint_body(
        old_size=0, proof=[], note=impostor.checkpoint())).status == 403
    honest = log(tmp_path, "h", [b"a", b"b"])
    note = honest.checkpoint()
    assert witness.add_checkpoint(add_checkpoint_body(
        old_size=3, proof=[], note=note)).status == 400  # old above the size
    assert witness.add_checkpoint(add_checkpoint_body(
        old_size=0, proof=[base64.b64decode("A" * 43 + "=")], note=note)).status == 422

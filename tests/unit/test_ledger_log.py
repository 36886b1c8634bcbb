"""The durable ledger: append, reopen, torn writes, checkpoints that only ever extend."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.checkpoint import Checkpoint, sign_checkpoint, verify_checkpoint
from ledger.errors import (
    LedgerConfigError,
    LedgerCorruptError,
    LedgerLockedError,
    NonExtensionError,
)
from ledger.log import CHECKPOINT_FILE, LEAVES_FILE, Ledger
from ledger.merkle import hash_leaf, root, verify_consistency, verify_inclusion
from ledger.note import Signer
from ledger.records import MAGIC

ORIGIN = "registry.example/ledger"
SIGNER = Signer.from_seed(key_name=ORIGIN, seed=bytes(range(32)))


def _leaves(n: int, start: int = 0) -> list[bytes]:
    return [b'{"event":"UnitsIssued","position":%d}' % i for i in range(start, start + n)]


def _open(folder: Path, signer: Signer = SIGNER) -> Ledger:
    return Ledger(folder, origin=ORIGIN, signer=signer)


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    with _open(tmp_path / "data") as opened:
        yield opened


def test_append_returns_contiguous_indexes_and_exact_bytes(ledger: Ledger) -> None:
    assert ledger.append(b"") == 0
    assert ledger.append_many(_leaves(5)) == range(1, 6)
    assert ledger.size == 6
    assert ledger.leaf(0) == b"" and ledger.leaf(3) == _leaves(5)[2]
    assert list(ledger.leaves()) == [b"", *_leaves(5)]
    assert ledger.root() == root([b"", *_leaves(5)])


def test_append_rejects_text(ledger: Ledger) -> None:
    with pytest.raises(TypeError):
        ledger.append_many(["not bytes"])  # type: ignore[list-item]
    assert ledger.size == 0


def test_proofs_verify_against_the_signed_checkpoint(ledger: Ledger) -> None:
    ledger.append_many(_leaves(10))
    old = verify_checkpoint(note=ledger.checkpoint(), vkey=SIGNER.vkey, origin=ORIGIN)
    ledger.append_many(_leaves(7, 10))
    new = verify_checkpoint(note=ledger.checkpoint(), vkey=SIGNER.vkey, origin=ORIGIN)
    verify_inclusion(
        index=12,
        size=new.size,
        leaf_hash=hash_leaf(ledger.leaf(12)),
        proof=ledger.inclusion_proof(12, new.size),
        root=new.root,
    )
    verify_inclusion(
        index=3,
        size=old.size,
        leaf_hash=ledger.leaf_hash(3),
        proof=ledger.inclusion_proof(3, old.size),
        root=old.root,
    )
    verify_consistency(
        size1=old.size,
        size2=new.size,
        root1=old.root,
        root2=new.root,
        proof=ledger.consistency_proof(old.size, new.size),
    )


def test_reopen_rebuilds_the_same_tree(tmp_path: Path) -> None:
    with _open(tmp_path) as first:
        first.append_many(_leaves(1000))
        first.append(b"last")
        want = first.root()
    with _open(tmp_path) as again:
        assert again.size == 1001 and again.root() == want and again.dropped_bytes == 0
        assert again.append(b"more") == 1001


def test_a_second_writer_is_locked_out(ledger: Ledger, tmp_path: Path) -> None:
    with pytest.raises(LedgerLockedError):
        _open(tmp_path / "data")


def test_folder_of_another_log_is_refused(tmp_path: Path) -> None:
    with _open(tmp_path) as first:
        first.checkpoint()
    with pytest.raises(LedgerConfigError):
        Ledger(tmp_path, origin="other.example/log", signer=SIGNER)


# --- crash safety ---------------------------------------------------------------------------


def _leaf_file(folder: Path) -> Path:
    return folder / LEAVES_FILE


@pytest.mark.parametrize("cut", [1, 4, 8, 20])
def test_torn_last_record_is_truncated_on_reopen(tmp_path: Path, cut: int) -> None:
    with _open(tmp_path) as first:
        first.append_many(_leaves(50))
        first.checkpoint()
        first.append_many(_leaves(3, 50))
        want = first.root(52)
    path = _leaf_file(tmp_path)
    full = path.stat().st_size
    os.truncate(path, full - cut)  # the last record was only partly written
    with _open(tmp_path) as again:
        assert again.size == 52
        assert again.root() == want
        assert (
            again.dropped_bytes == full - cut - path.stat().st_size + 0 or again.dropped_bytes > 0
        )
        assert again.append(b"after recovery") == 52
    with _open(tmp_path) as third:
        assert third.leaf(52) == b"after recovery"


def test_zero_filled_tail_is_not_mistaken_for_empty_leaves(tmp_path: Path) -> None:
    with _open(tmp_path) as first:
        first.append_many(_leaves(5))
    with open(_leaf_file(tmp_path), "ab") as raw:
        raw.write(bytes(4096))  # what a file system may expose after a crash
    with _open(tmp_path) as again:
        assert again.size == 5 and again.dropped_bytes == 4096


def test_garbage_tail_after_last_record_is_truncated(tmp_path: Path) -> None:
    with _open(tmp_path) as first:
        first.append_many(_leaves(5))
    with open(_leaf_file(tmp_path), "ab") as raw:
        raw.write(b"\x00\x00\x00\x05abcdXYZ")  # header with a wrong check, short body
    with _open(tmp_path) as again:
        assert again.size == 5 and again.dropped_bytes == 11


def test_damage_inside_the_signed_prefix_is_refused(tmp_path: Path) -> None:
    with _open(tmp_path) as first:
        first.append_many(_leaves(20))
        first.checkpoint()
    path = _leaf_file(tmp_path)
    data = bytearray(path.read_bytes())
    data[len(MAGIC) + 8 + 3] ^= 0xFF  # a byte of leaf 0
    path.write_bytes(bytes(data))
    with pytest.raises(LedgerCorruptError):
        _open(tmp_path)


def test_missing_signed_leaves_are_refused(tmp_path: Path) -> None:
    with _open(tmp_path) as first:
        first.append_many(_leaves(20))
        first.checkpoint()
    path = _leaf_file(tmp_path)
    os.truncate(path, path.stat().st_size - 5)
    with pytest.raises(LedgerCorruptError):
        _open(tmp_path)


def test_torn_file_creation_is_repaired(tmp_path: Path) -> None:
    tmp_path.joinpath(LEAVES_FILE).write_bytes(MAGIC[:3])
    with _open(tmp_path) as fresh:
        assert fresh.size == 0 and fresh.append(b"x") == 0


def test_foreign_file_is_refused(tmp_path: Path) -> None:
    tmp_path.joinpath(LEAVES_FILE).write_bytes(b"not a ledger at all")
    with pytest.raises(LedgerCorruptError):
        _open(tmp_path)


# --- checkpoints only ever extend -----------------------------------------------------------


def test_checkpoint_is_stored_atomically_and_verifies(ledger: Ledger, tmp_path: Path) -> None:
    ledger.append_many(_leaves(3))
    note = ledger.checkpoint()
    assert ledger.latest_checkpoint() == note
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == [
        CHECKPOINT_FILE,
        LEAVES_FILE,
        "lock",
    ]
    assert verify_checkpoint(note=note, vkey=ledger.vkey).size == 3


def test_empty_log_checkpoint_has_the_empty_root(ledger: Ledger) -> None:
    cp = verify_checkpoint(note=ledger.checkpoint(), vkey=SIGNER.vkey)
    assert cp.size == 0 and cp.root == root([])


def _plant_checkpoint(folder: Path, checkpoint: Checkpoint) -> None:
    note = sign_checkpoint(checkpoint=checkpoint, signer=SIGNER)
    (folder / CHECKPOINT_FILE).write_text(note, encoding="utf-8")


def test_checkpoint_refuses_a_tree_smaller_than_the_signed_one(
    ledger: Ledger, tmp_path: Path
) -> None:
    ledger.append_many(_leaves(4))
    _plant_checkpoint(tmp_path / "data", Checkpoint(ORIGIN, 9, root(_leaves(9))))
    with pytest.raises(NonExtensionError):
        ledger.checkpoint()


def test_checkpoint_refuses_a_tree_with_a_different_history(ledger: Ledger, tmp_path: Path) -> None:
    ledger.append_many(_leaves(4))
    forked = [b"forked", *_leaves(3, 1)]
    _plant_checkpoint(tmp_path / "data", Checkpoint(ORIGIN, 4, root(forked)))
    with pytest.raises(NonExtensionError):
        ledger.checkpoint()
    ledger.append(b"five")
    with pytest.raises(NonExtensionError):
        ledger.checkpoint()


def test_checkpoint_of_the_same_size_is_allowed_and_identical(ledger: Ledger) -> None:
    ledger.append_many(_leaves(4))
    assert ledger.checkpoint() == ledger.checkpoint()  # Ed25519 is deterministic


def test_no_public_truncate_or_rollback() -> None:
    public = {name for name in dir(Ledger) if not name.startswith("_")}
    assert not {n for n in public if "trunc" in n or "rollback" in n or "delete" in n}


_CHILD = """
import sys
from ledger.log import Ledger
from ledger.note import Signer
signer = Signer.from_seed(key_name=sys.argv[2], seed=bytes(range(32)))
with Ledger(sys.argv[1], origin=sys.argv[2], signer=signer) as ledger:
    i = 0
    while True:
        index = ledger.append_many([b"leaf %d" % j for j in range(i, i + 7)]).stop - 1
        print(index, flush=True)
        i += 7
"""


def test_acknowledged_appends_survive_kill_9(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys

    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(tmp_path), ORIGIN],
        stdout=subprocess.PIPE,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert child.stdout is not None
    acknowledged = [int(child.stdout.readline()) for _ in range(200)]
    child.send_signal(signal.SIGKILL)
    child.wait()
    with _open(tmp_path) as reopened:
        assert reopened.size > acknowledged[-1]
        assert reopened.leaf(acknowledged[-1]) == b"leaf %d" % acknowledged[-1]

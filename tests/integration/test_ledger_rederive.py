"""The ledger never signs what it did not re-derive, and a torn-tail repair is never silent.

An unsigned leaf edited on disk *together with its 4-byte check* parses as a valid record, so
only re-deriving it from the stored event catches it: the next checkpoint must refuse, naming
the index, and sign nothing.
"""

from __future__ import annotations

import hashlib
import logging
import struct
from pathlib import Path

import pytest

from ledger.errors import LeafMismatchError
from ledger.log import LEAVES_FILE, TORN_DIR
from ledger.records import MAGIC
from registry.bootstrap import build_registry
from registry.ledger_follower import LedgerFollower, LedgerSettings, open_ledger, store_leaves
from tests.support.world import seed_data_folder

HEADER = struct.Struct(">I4s")


def record_offsets(path: Path) -> list[int]:
    data = path.read_bytes()
    offsets, pos = [], len(MAGIC)
    while pos < len(data):
        offsets.append(pos)
        pos += HEADER.size + HEADER.unpack_from(data, pos)[0]
    return offsets


def rewrite_leaf(path: Path, index: int, old: bytes, new: bytes) -> None:
    """Replace ``old`` by ``new`` (same length) inside leaf ``index`` and fix its check."""
    assert len(old) == len(new)
    data = bytearray(path.read_bytes())
    start = record_offsets(path)[index]
    length = HEADER.unpack_from(data, start)[0]
    leaf = bytes(data[start + HEADER.size : start + HEADER.size + length])
    assert old in leaf
    leaf = leaf.replace(old, new, 1)
    check = hashlib.sha256(b"\x00" + leaf).digest()[:4]
    data[start : start + HEADER.size + length] = HEADER.pack(length, check) + leaf
    path.write_bytes(bytes(data))


@pytest.fixture
def unsigned_ledger(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """A data folder whose ledger holds a leaf per event and no checkpoint yet."""
    env = seed_data_folder(tmp_path)
    settings = LedgerSettings.from_env(env)
    app = build_registry(env)
    with open_ledger(settings) as ledger:
        ledger.append_many(list(store_leaves(app)))
    app.close()
    return env, Path(settings.directory)


def test_an_edited_unsigned_leaf_with_a_fixed_check_is_never_signed(
        unsigned_ledger: tuple[dict[str, str], Path], caplog: pytest.LogCaptureFixture) -> None:
    env, folder = unsigned_ledger
    rewrite_leaf(folder / LEAVES_FILE, 5, b'"version":', b'"versioN":')
    app = build_registry(env)
    with open_ledger(LedgerSettings.from_env(env)) as ledger:
        follower = LedgerFollower(app, ledger)
        with caplog.at_level(logging.ERROR, logger="ledger"), \
                pytest.raises(LeafMismatchError) as refused:
            follower.catch_up()
        assert refused.value.index == 5
        assert "leaf 5" in caplog.text and "refusing to sign" in caplog.text
        assert ledger.latest_checkpoint() is None
        with pytest.raises(LeafMismatchError):  # and it stays refused
            ledger.checkpoint()
    app.close()


def test_a_leaf_edited_on_disk_after_append_is_caught_before_signing(
        unsigned_ledger: tuple[dict[str, str], Path]) -> None:
    env, folder = unsigned_ledger
    app = build_registry(env)
    with open_ledger(LedgerSettings.from_env(env)) as ledger:
        LedgerFollower(app, ledger)
        rewrite_leaf(folder / LEAVES_FILE, 2, b'"version":', b'"versioN":')
        with pytest.raises(LeafMismatchError) as refused:
            ledger.checkpoint()
        assert refused.value.index == 2
        assert ledger.latest_checkpoint() is None
    app.close()


def test_a_leaf_for_an_event_the_store_does_not_hold_is_refused(
        unsigned_ledger: tuple[dict[str, str], Path]) -> None:
    env, folder = unsigned_ledger
    rewrite_leaf(folder / LEAVES_FILE, 3, b'"position":4', b'"position":9')
    app = build_registry(env)
    with open_ledger(LedgerSettings.from_env(env)) as ledger, \
            pytest.raises(LeafMismatchError) as refused:
        LedgerFollower(app, ledger).catch_up()
    assert refused.value.index == 3
    app.close()


def test_untouched_unsigned_leaves_are_re_derived_and_signed(
        unsigned_ledger: tuple[dict[str, str], Path]) -> None:
    env, _ = unsigned_ledger
    app = build_registry(env)
    with open_ledger(LedgerSettings.from_env(env)) as ledger:
        assert LedgerFollower(app, ledger).catch_up() == 0
        ledger.checkpoint()
        assert ledger.signed_size == ledger.size > 0
    app.close()


def test_torn_tail_repair_is_logged_and_keeps_what_it_dropped(
        unsigned_ledger: tuple[dict[str, str], Path], caplog: pytest.LogCaptureFixture) -> None:
    env, folder = unsigned_ledger
    leaves = folder / LEAVES_FILE
    offsets = record_offsets(leaves)
    size = len(offsets)
    data = leaves.read_bytes()
    torn = data[offsets[-1] : offsets[-1] + 20]  # the last record cut short, as by a crash
    leaves.write_bytes(data[: offsets[-1]] + torn)
    app = build_registry(env)
    with caplog.at_level(logging.WARNING, logger="ledger"), \
            open_ledger(LedgerSettings.from_env(env)) as ledger:
        assert ledger.size == size - 1
        assert ledger.torn_tail is not None and ledger.torn_tail.data == torn
        assert ledger.torn_tail.at_index == size - 1
        assert ledger.torn_path is not None and ledger.torn_path.read_bytes() == torn
        assert ledger.torn_path.parent.name == TORN_DIR
        assert f"torn unsigned tail of 20 bytes at leaf {size - 1}" in caplog.text
        assert LedgerFollower(app, ledger).catch_up() == 1  # the event comes back from the store
        assert ledger.signed_size == size
    app.close()

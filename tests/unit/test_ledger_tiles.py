"""C2SP tlog-tiles: paths as the spec spells them, tiles equal to the RFC 6962 subtree hashes
they stand for, nothing beyond the signed checkpoint."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.log import Ledger
from ledger.merkle import root
from ledger.note import Signer
from ledger.tiles import (
    TileError,
    TilePath,
    decode_bundle,
    format_index,
    parse_tile_path,
    tile_path,
)


@pytest.mark.parametrize(("index", "text"), [
    (0, "000"), (7, "007"), (999, "999"), (1000, "x001/000"), (1234067, "x001/x234/067")])
def test_indexes_are_written_as_the_spec_spells_them(index: int, text: str) -> None:
    assert format_index(index) == text
    assert parse_tile_path(f"0/{text}") == TilePath(0, index)


@pytest.mark.parametrize("path", ["0/1", "0/0001", "64/000", "01/000", "0/x000/001",
                                  "0/000.p/256", "0/000.p/0", "0/000.p/07", "entries",
                                  "0/001/002", "x/000"])
def test_malformed_tile_paths_are_refused(path: str) -> None:
    with pytest.raises(TileError):
        parse_tile_path(path)


def test_a_partial_tile_path_round_trips() -> None:
    tile = parse_tile_path("entries/x001/234.p/5")
    assert tile == TilePath(None, 1234, 5) and tile_path(tile) == "tile/entries/x001/234.p/5"


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    log = Ledger(tmp_path / "l", origin="example.org/log",
                 signer=Signer.from_seed(key_name="example.org/log", seed=b"\x07" * 32))
    log.append_many([b"leaf %d" % i for i in range(70_000)])
    return log


def leaves(n: int, m: int) -> list[bytes]:
    return [b"leaf %d" % i for i in range(n, m)]


def test_tiles_are_the_subtree_hashes_of_the_spec(ledger: Ledger) -> None:
    with pytest.raises(TileError, match="needs a signed tree"):
        ledger.tile(TilePath(0, 0))  # nothing is signed yet
    ledger.checkpoint()
    # the spec's example: 70,000 leaves are 273 full level-0 tiles, a partial one of 112,
    # a full level-1 tile, a partial one of 17 and a partial level-2 tile of 1
    tile = ledger.tile(TilePath(0, 272))
    assert tile[:32] == root(leaves(272 * 256, 272 * 256 + 1))
    assert ledger.tile(TilePath(0, 273, 112))[-32:] == root(leaves(70_000 - 1, 70_000))
    with pytest.raises(TileError):
        ledger.tile(TilePath(0, 273))  # not full yet
    level1 = ledger.tile(TilePath(1, 0))
    assert len(level1) == 8192 and level1[32:64] == root(leaves(256, 512))
    assert len(ledger.tile(TilePath(1, 1, 17))) == 17 * 32
    assert ledger.tile(TilePath(2, 0, 1)) == root(leaves(0, 65_536))
    with pytest.raises(TileError):
        ledger.tile(TilePath(2, 0, 2))


def test_entry_bundles_hold_the_exact_leaves(ledger: Ledger) -> None:
    ledger.checkpoint()
    assert decode_bundle(ledger.tile(TilePath(None, 3))) == leaves(768, 1024)
    assert decode_bundle(ledger.tile(TilePath(None, 273, 112))) == leaves(69_888, 70_000)

"""C2SP tlog-tiles: the tree as static tiles of 256 hashes, and the leaves as entry bundles.

Paths (c2sp.org/tlog-tiles), under the log's prefix::

    tile/<L>/<N>[.p/<W>]          level L (0..63), index N, partial width W (1..255)
    tile/entries/<N>[.p/<W>]      entry bundle: uint16 big-endian length-prefixed leaves

``N`` is written as zero-padded three-digit elements, all but the last prefixed ``x``
(1234067 → ``x001/x234/067``). Hash ``i`` of tile ``N`` at level ``L`` is the Merkle Tree Hash
of leaves ``[(N·256 + i)·256^L, (N·256 + i + 1)·256^L)``: a complete subtree of height ``8L``,
which :class:`~ledger.tree.MerkleTree` keeps anyway, so serving a tile is a slice.

Only what a signed checkpoint covers is served (a tile or bundle reaching past the signed size
is refused), so any client can verify every tile against a checkpoint it checked. An entry
longer than 65,535 bytes cannot be written in a bundle (uint16 lengths): such a bundle is
refused with :class:`TileError` naming the index.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass

__all__ = [
    "MAX_BUNDLE_ENTRY",
    "TILE_WIDTH",
    "TileError",
    "TilePath",
    "format_index",
    "parse_tile_path",
    "tile_path",
]

TILE_WIDTH = 256
MAX_BUNDLE_ENTRY = 0xFFFF
_ELEMENT = re.compile(r"x\d{3}")
_LAST = re.compile(r"\d{3}")
_WIDTH = re.compile(r"[1-9]\d{0,2}")
_LEVEL = re.compile(r"0|[1-9]\d?")
_U16 = struct.Struct(">H")


class TileError(ValueError):
    """A malformed tile path, or a tile the log cannot (or may not yet) serve."""


@dataclass(frozen=True)
class TilePath:
    """A parsed tile path: ``level`` is ``None`` for an entry bundle."""

    level: int | None
    index: int
    width: int = TILE_WIDTH

    @property
    def partial(self) -> bool:
        return self.width < TILE_WIDTH

    def first_leaf(self) -> int:
        """The first leaf the tile spans (its start index, c2sp.org/tlog-tiles)."""
        return self.index << (8 * ((self.level or 0) + 1))

    def leaves_needed(self) -> int:
        """The tree size this tile needs: its hashes' subtrees must all be complete."""
        return (self.index * TILE_WIDTH + self.width) << (8 * (self.level or 0))


def format_index(index: int) -> str:
    """1234067 → ``x001/x234/067``."""
    if index < 0:
        raise ValueError("a tile index is not negative")
    groups = []
    while True:
        groups.append(f"{index % 1000:03d}")
        index //= 1000
        if index == 0:
            break
    return "/".join([*(f"x{g}" for g in reversed(groups[1:])), groups[0]])


def tile_path(tile: TilePath) -> str:
    """The path of ``tile`` under the prefix (``tile/0/x001/234.p/5``)."""
    level = "entries" if tile.level is None else str(tile.level)
    suffix = f".p/{tile.width}" if tile.partial else ""
    return f"tile/{level}/{format_index(tile.index)}{suffix}"


def parse_tile_path(path: str) -> TilePath:
    """Parse ``<L>/<N>[.p/<W>]`` or ``entries/<N>[.p/<W>]`` (the part after ``tile/``)."""
    parts = path.split("/")
    if len(parts) < 2:
        raise TileError(f"not a tile path: {path!r}")
    head, rest = parts[0], parts[1:]
    if head == "entries":
        level = None
    elif _LEVEL.fullmatch(head) and int(head) <= 63:
        level = int(head)
    else:
        raise TileError(f"bad tile level {head!r}")
    width = TILE_WIDTH
    if len(rest) >= 2 and rest[-2].endswith(".p"):
        if not _WIDTH.fullmatch(rest[-1]) or int(rest[-1]) >= TILE_WIDTH:
            raise TileError(f"bad partial tile width {rest[-1]!r}")
        width = int(rest[-1])
        rest = [*rest[:-2], rest[-2][:-2]]
    if not rest or not _LAST.fullmatch(rest[-1]) or not all(map(_ELEMENT.fullmatch, rest[:-1])):
        raise TileError(f"bad tile index {'/'.join(rest)!r}")
    index = 0
    for element in rest:
        index = index * 1000 + int(element.lstrip("x"))
    if len(rest) > 1 and int(rest[0][1:]) == 0:
        raise TileError("a tile index has no leading zero groups")
    return TilePath(level, index, width)


def encode_bundle(entries: list[bytes], first: int) -> bytes:
    """An entry bundle: each entry as a big-endian uint16 length and its bytes."""
    out: list[bytes] = []
    for offset, entry in enumerate(entries):
        if len(entry) > MAX_BUNDLE_ENTRY:
            raise TileError(f"entry {first + offset} is {len(entry)} bytes, more than an entry "
                            f"bundle can hold ({MAX_BUNDLE_ENTRY})")
        out += (_U16.pack(len(entry)), entry)
    return b"".join(out)


def decode_bundle(data: bytes) -> list[bytes]:
    """The entries of a bundle (for clients and tests)."""
    entries, pos = [], 0
    while pos < len(data):
        if pos + 2 > len(data):
            raise TileError("truncated entry bundle")
        (length,) = _U16.unpack_from(data, pos)
        if pos + 2 + length > len(data):
            raise TileError("truncated entry bundle")
        entries.append(data[pos + 2 : pos + 2 + length])
        pos += 2 + length
    return entries

"""The exchange's view of an instrument's blocks, and the planning of one settlement batch.

`PoolIndex` is *derived* state: for one exchange pool reference it lists, per owner, the first
serials of its available blocks and of its blocks reserved under the pool, and counts per owner
and lot the units an order may use (available and unfrozen; reserved under the pool). It is
built from the blocks the first time the exchange asks, then kept in step by every change the
instrument makes to its blocks, so a batch reads the few blocks it touches instead of scanning
all of them (tens of thousands once ownership is fragmented). It is not part of the aggregate's
state: snapshots, replays and equality never see it, and `PoolIndex.of` rebuilds it exactly.

`plan_batch` decides which ranges a batch moves and which neighbours it merges, on an overlay
of the blocks it changes; `Instrument._batch_settled` then applies exactly that plan.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Mapping
from heapq import merge
from operator import itemgetter
from typing import Any, cast

from domain.errors import InsufficientHoldings
from domain.quantities import check_quantity
from domain.records import (
    FIRST,
    FROZEN,
    LAST,
    LOT,
    OWNER,
    REF,
    STATE,
    stored_pool_step,
    stored_transfer,
)

AVAILABLE = "available"
RESERVED = "reserved"

Block = list[Any]


class PoolIndex:
    """Pool-reserved blocks and usable units of every owner for one pool (module docstring).

    The instrument reports every change to its blocks as one of three facts — a range carved
    out of a block (`carved`), a block absorbed by its left neighbour (`absorbed`), a block
    issued (`issued`) — and the index updates in O(1) list and counter operations per fact."""

    def __init__(self, pool: str) -> None:
        self.pool = pool
        #: owner -> ascending first serials of its blocks reserved under the pool
        self.pooled: dict[str, list[int]] = {}
        #: owner -> lot -> [available unfrozen units, units reserved under the pool]
        self.units: dict[str, dict[str, list[int]]] = {}

    @classmethod
    def of(cls, pool: str, blocks: Mapping[str, Block]) -> PoolIndex:
        """The index of ``blocks``, built from scratch."""
        index = cls(pool)
        for b in blocks.values():
            index._count(b[OWNER], b[LOT], index.slot(b[STATE], b[REF], b[FROZEN]),
                         b[LAST] - b[FIRST] + 1)
            if b[STATE] == RESERVED and b[REF] == pool:
                index.pooled.setdefault(b[OWNER], []).append(b[FIRST])
        for firsts in index.pooled.values():
            firsts.sort()
        return index

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PoolIndex) and vars(self) == vars(other)

    __hash__ = None  # type: ignore[assignment]

    def slot(self, state: str, ref: str | None, frozen: str | None) -> int:
        """Which counter units in this state count towards: 0 usable available, 1 pool, -1
        neither."""
        if state == AVAILABLE:
            return -1 if frozen else 0
        return 1 if state == RESERVED and ref == self.pool else -1

    def _count(self, owner: str, lot: str, slot: int, n: int) -> None:
        if slot < 0:
            return
        per = self.units.get(owner)
        if per is None:
            per = self.units[owner] = {}
        counts = per.get(lot)
        if counts is None:
            counts = per[lot] = [0, 0]
        counts[slot] += n
        if not counts[0] and not counts[1]:  # canonical: equal to a fresh build
            del per[lot]
            if not per:
                del self.units[owner]

    def issued(self, b: Block) -> None:
        self._count(b[OWNER], b[LOT], self.slot(b[STATE], b[REF], b[FROZEN]),
                    b[LAST] - b[FIRST] + 1)

    def carved(self, old: Block, first: int, last: int, new: Block) -> None:
        """``[first, last]`` of block ``old`` (as it was; the head before ``first`` and the
        tail after ``last`` stay as they were) now has ``new``'s owner, state, ref and
        frozen flag."""
        owner, lot = old[OWNER], old[LOT]
        was = self.slot(old[STATE], old[REF], old[FROZEN])
        now = self.slot(new[STATE], new[REF], new[FROZEN])
        if was != now or owner != new[OWNER]:
            self._count(owner, lot, was, first - last - 1)
            self._count(new[OWNER], lot, now, last - first + 1)
        stays = was == now == 1 and new[OWNER] == owner  # in the same owner's pool
        if was == 1:
            firsts = self.pooled[owner]
            head, tail = first > old[FIRST], last < old[LAST]
            if stays:
                if head:
                    insort(firsts, first)
                if tail:
                    insort(firsts, last + 1)
            elif head:
                if tail:
                    insort(firsts, last + 1)
            else:
                at = bisect_left(firsts, first)
                if tail:  # the tail takes the block's place: nothing lies between them
                    firsts[at] = last + 1
                else:
                    del firsts[at]
                    if not firsts:
                        del self.pooled[owner]
        if now == 1 and not stays:
            insort(self.pooled.setdefault(new[OWNER], []), first)

    def absorbed(self, b: Block) -> None:
        """Block ``b`` was merged into the block before it (they agree, so counts stay)."""
        if b[STATE] == RESERVED and b[REF] == self.pool:
            firsts = self.pooled[b[OWNER]]
            del firsts[bisect_left(firsts, b[FIRST])]
            if not firsts:
                del self.pooled[b[OWNER]]

    def settled(self, plan: _Plan) -> None:
        """Bring the index up to date with a batch just applied exactly as ``plan`` said:
        the counters by the plan's tallies, the pool lists of the owners whose pool it
        changed from the plan's queues (cheaper than following every carved range)."""
        for (owner, lot, slot), n in plan.counted.items():
            if n:
                self._count(owner, lot, slot, n)
        absorbed = plan.absorbed
        for owner in plan.reserved.keys() | plan.queues.keys():
            q = plan.queues.get(owner)
            if q is None:  # reserved into, not taken from: stored pool plus the new pieces
                both = merge(self.pooled.get(owner, ()), (p[FIRST] for p in plan.reserved[owner]))
                firsts = [f for f in both if f not in absorbed]
            else:
                firsts = [s[FIRST] for s in q if s is not None and s[FIRST] not in absorbed]
            if firsts:
                self.pooled[owner] = firsts
            else:
                self.pooled.pop(owner, None)

    def position(self, owner: str, lots: Mapping[str, Mapping[str, Any]], on: str) -> list[int]:
        """[usable available units, valid units reserved under the pool] of ``owner``."""
        out = [0, 0]
        for lot, (free, pooled) in self.units.get(owner, {}).items():
            if lots[lot]["expires_on"] >= on:
                out[0] += free
                out[1] += pooled
        return out


class _Plan:
    """The blocks as a batch leaves them, as an overlay on the stored ones: ``over`` holds every
    block the batch creates or changes (by first serial), ``ends`` maps their last serials to
    their first, ``changed`` names the ones whose owner, state or ref the batch set."""

    def __init__(self, blocks: Mapping[str, Block], owned: Mapping[str, list[int]],
                 index: PoolIndex, lots: Mapping[str, Mapping[str, Any]], pool: str,
                 on: str) -> None:
        self.blocks, self.owned, self.index = blocks, owned, index
        self.lots, self.pool, self.on = lots, pool, on
        self.over: dict[int, Block] = {}
        self.ends: dict[int, int] = {}
        self.changed: set[int] = set()
        self.reserved: dict[str, list[Block]] = {}  # owner -> pool pieces this batch reserved
        self.queues: dict[str, list[Block | None]] = {}  # owner -> its pool, None = used up
        #: what the batch does to `PoolIndex.units`: (owner, lot, slot) -> units
        self.counted: dict[tuple[str, str, int], int] = {}
        self.absorbed: set[int] = set()  # first serials of pool blocks the merges absorb

    def cut(self, s: Block, take: int, owner: str, state: str, ref: str | None) -> Block | None:
        """Carve ``take`` units off the low end of ``s`` into ``owner``/``state``/``ref``;
        returns the remaining tail, if any. (The callers tally the units.)"""
        first = s[FIRST]
        last = first + take - 1
        piece = [first, last, owner, state, s[LOT], ref, s[FROZEN]]
        self.over[first] = piece
        self.ends[last] = first
        changed = self.changed
        carving_a_changed_block = first in changed
        changed.add(first)
        if last == s[LAST]:
            return None
        tail = s.copy()
        tail[FIRST] = last + 1
        self.over[last + 1] = tail
        self.ends[s[LAST]] = last + 1
        if carving_a_changed_block:  # the tail keeps what the batch set, not what was stored
            changed.add(last + 1)
        return tail

    def count(self, tally: dict[str, int], owner: str, slot: int, sign: int) -> None:
        counted = self.counted
        for lot, n in tally.items():
            key = (owner, lot, slot)
            counted[key] = counted.get(key, 0) + sign * n

    def reserve(self, owner: str, qty: int) -> list[list[int]]:
        """Available → pool, lowest usable serials first. Runs before any other step of the
        batch touches ``owner``'s blocks, so it reads the stored blocks."""
        moves: list[list[int]] = []
        pieces = self.reserved.setdefault(owner, [])
        blocks, over, lots, on, pool = self.blocks, self.over, self.lots, self.on, self.pool
        tally: dict[str, int] = {}  # lot -> units
        need = qty
        for first in self.owned.get(owner, ()):
            s = blocks[str(first)]
            if s[STATE] != AVAILABLE or s[FROZEN] or lots[s[LOT]]["expires_on"] < on:
                continue
            size = s[LAST] - first + 1
            take = size if size < need else need  # (not `min`: a call per carved range)
            moves.append([first, first, first + take - 1])
            self.cut(s, take, owner, RESERVED, pool)
            pieces.append(over[first])
            tally[s[LOT]] = tally.get(s[LOT], 0) + take
            need -= take
            if not need:
                break
        if need:
            raise InsufficientHoldings(f"{owner} available: {qty - need} units usable, "
                                       f"{qty} needed")
        self.count(tally, owner, 0, -1)
        self.count(tally, owner, 1, 1)
        return moves

    def queue(self, owner: str) -> list[Block | None]:
        """``owner``'s pool in serial order: its stored pool blocks (which no earlier step of
        the batch changes) merged with what the batch's reserve step added."""
        q: list[Block | None] | None = self.queues.get(owner)
        if q is None:
            blocks = self.blocks
            pool = [blocks[str(f)] for f in self.index.pooled.get(owner, ())]
            reserved = self.reserved.get(owner)
            if reserved:  # two runs in serial order, no serial in both: one linear merge
                pool += reserved
                pool.sort(key=_first)
            q = self.queues[owner] = cast("list[Block | None]", pool)  # None once used up
        return q

    def take(self, owner: str, qty: int, start: int, *, to: str | None,
             usable_only: bool) -> tuple[list[list[int]], int]:
        """Pool → available (to ``to``, or back to ``owner``), lowest serials first from
        queue position ``start``; returns the moves and where the next pick may start."""
        q = self.queue(owner)
        lots, on = self.lots, self.on
        moves: list[list[int]] = []
        new_owner = owner if to is None else to
        tally: dict[str, int] = {}  # lot -> units
        frozen: dict[str, int] = {}  # the same, of frozen units (not usable once available)
        need = qty
        i = start
        while need and i < len(q):
            s = q[i]
            if s is None or (usable_only and (s[FROZEN] or
                                              lots[s[LOT]]["expires_on"] < on)):
                i += 1
                continue
            first = s[FIRST]
            size = s[LAST] - first + 1
            take = size if size < need else need  # (not `min`: a call per carved range)
            moves.append([first, first, first + take - 1])
            tail = q[i] = self.cut(s, take, new_owner, AVAILABLE, None)
            units = frozen if s[FROZEN] else tally
            units[s[LOT]] = units.get(s[LOT], 0) + take
            need -= take
            if tail is None:
                i += 1
        if need:
            raise InsufficientHoldings(f"{owner} reserved: {qty - need} units usable, "
                                       f"{qty} needed")
        self.count(tally, owner, 1, -1)
        self.count(frozen, owner, 1, -1)
        self.count(tally, new_owner, 0, 1)
        return moves, i

    def previous(self, s: Block) -> Block | None:
        """The block that will end just before ``s``, if it could merge with it (same owner)."""
        first = self.ends.get(s[FIRST] - 1)
        if first is not None:
            return self.over[first]
        firsts = self.owned.get(s[OWNER], ())
        at = bisect_left(firsts, s[FIRST])
        if not at or firsts[at - 1] in self.over:  # a changed block would be in ``ends``
            return None
        b = self.blocks[str(firsts[at - 1])]
        return b if b[LAST] + 1 == s[FIRST] else None

    def merges(self) -> list[list[int]]:
        """``[first, last]`` of every run of neighbours that will agree in everything but
        their range and that holds a block the batch changed. Blocks the batch did not touch
        (and tails it cut off them) were already merged with their neighbours, so only runs
        through changed ones can form."""
        out: list[list[int]] = []
        over, blocks, pool = self.over, self.blocks, self.pool
        covered = 0
        for first in sorted(self.changed):
            if first <= covered:
                continue
            start = end = over[first]
            owner = end[OWNER]
            pooled = end[STATE] == RESERVED and end[REF] == pool
            # neighbours mostly belong to someone else: compare owners before the rest
            while (p := self.previous(start)) is not None and p[OWNER] == owner \
                    and p[OWNER:] == start[OWNER:]:
                if pooled:
                    self.absorbed.add(start[FIRST])
                start = p
            while True:
                n = over.get(end[LAST] + 1) or blocks.get(str(end[LAST] + 1))
                if n is None or n[OWNER] != owner or n[OWNER:] != end[OWNER:]:
                    break
                if pooled:
                    self.absorbed.add(n[FIRST])
                end = n
            if start is not end:
                out.append([start[FIRST], end[LAST]])
            covered = end[LAST]
        return out


def plan_batch(
    *, blocks: Mapping[str, Block], owned: Mapping[str, list[int]], index: PoolIndex,
    lots: Mapping[str, Mapping[str, Any]], pool: str, on: str, reserve: Mapping[str, int],
    transfers: list[list[Any]], release: Mapping[str, int],
) -> tuple[list[list[Any]], list[list[int]], _Plan]:
    """The ``steps`` and ``merges`` of a ``BatchSettled`` event (see `Instrument.settle_batch`)
    for blocks indexed by ``index``, and the plan that `PoolIndex.settled` brings the index
    up to date with once they are applied; raises `InsufficientHoldings` when a step finds
    too few units. Reads the blocks and the index, changes neither."""
    plan = _Plan(blocks, owned, index, lots, pool, on)
    steps: list[list[Any]] = []
    for owner, qty in sorted(reserve.items()):
        if qty:
            steps.append(stored_pool_step("reserve", owner, qty, plan.reserve(owner, qty)))
    # one forward pass per seller: its trades take consecutive pool units, in trade order
    by_seller: dict[str, list[list[Any]]] = {}
    for t in transfers:  # [seller, buyer, qty, trade] (`Desk.trade`)
        seller, _, qty, _ = t
        check_quantity(qty)
        by_seller.setdefault(seller, []).append(t)
    for seller, trades in by_seller.items():
        cursor = 0
        for _, buyer, qty, trade in trades:
            moves, cursor = plan.take(seller, qty, cursor, to=buyer, usable_only=True)
            steps.append(stored_transfer(seller, buyer, qty, trade, moves))
    for owner, qty in sorted(release.items()):
        if qty:
            moves, _ = plan.take(owner, qty, 0, to=None, usable_only=False)
            steps.append(stored_pool_step("release", owner, qty, moves))
    return steps, (plan.merges() if steps else []), plan


_first = itemgetter(FIRST)

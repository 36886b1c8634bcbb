"""The exchange's pool index and batch planner against the block scans they replaced.

A stateful test drives one instrument through exchange batches mixed with every other command
(reservations under other references, transfers, freezes, expiry, revocation). After each step:
the incrementally kept `PoolIndex` equals one built from scratch; every batch picked exactly the
ranges the original full-scan planner (kept below as the reference) picks, and merged the same
runs; blocks partition the issued range, agreeing neighbours are always merged, and folding the
events from scratch rebuilds the same state (where the index is absent until asked for).
"""

from __future__ import annotations

import itertools
from bisect import insort
from operator import itemgetter
from typing import Any

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from domain.enterprise import Enterprise
from domain.errors import InsufficientHoldings, RegistryError
from domain.instrument import FIRST, FROZEN, LAST, LOT, OWNER, REF, STATE, Instrument
from domain.instrument_pool import PoolIndex
from registry.replay import comparable
from registry.rulebook import CURRENT_RULES, rules
from tests.support.world import AT, code

POOL = "exchange:COD-2025-MAOZHOU"
R = rules(CURRENT_RULES)
OWNERS = 4
units = st.integers(min_value=1, max_value=60)


# -- the reference: the planner as it was, scanning every block of every owner involved ------

_first = itemgetter(FIRST)


def reference_plan(i: Instrument, *, reserve: dict[str, int], transfers: list[list[Any]],
                   release: dict[str, int], on: str) -> tuple[list[list[Any]], list[list[int]]]:
    owners = set(reserve) | set(release)
    for t in transfers:
        owners.update(t[:2])
    segments = {o: [list(i.blocks[str(f)]) for f in i.owned.get(o, ())] for o in owners}

    def usable(s: list[Any]) -> bool:
        return not s[FROZEN] and i.lots[s[LOT]]["expires_on"] >= on

    steps: list[list[Any]] = []
    for owner, qty in sorted(reserve.items()):
        if qty:
            moves, _ = _carve(segments[owner], qty, lambda s: s[STATE] == "available"
                              and usable(s), "reserved", POOL, to=None)
            steps.append(["reserve", owner, qty, moves])
    by_seller: dict[str, list[list[Any]]] = {}
    for t in transfers:
        by_seller.setdefault(t[0], []).append(t)
    for seller, trades in by_seller.items():
        cursor = 0
        for _, buyer, qty, trade in trades:
            moves, cursor = _carve(segments[seller], qty, lambda s: s[STATE] == "reserved"
                                   and s[REF] == POOL and usable(s), "available", None,
                                   to=(buyer, segments[buyer]), start=cursor)
            steps.append(["transfer", seller, buyer, qty, trade, moves])
    for owner, qty in sorted(release.items()):
        if qty:
            moves, _ = _carve(segments[owner], qty, lambda s: s[STATE] == "reserved"
                              and s[REF] == POOL, "available", None, to=None)
            steps.append(["release", owner, qty, moves])
    merges = [m for owner in sorted(owners) for m in _merges(segments[owner])] if steps else []
    return steps, merges


def _merges(segments: list[list[Any]]) -> list[list[int]]:
    out: list[list[int]] = []
    run: list[Any] | None = None
    last = 0
    for s in segments:
        if run is not None and last + 1 == s[FIRST] and run[OWNER:] == s[OWNER:]:
            last = s[LAST]
            continue
        if run is not None and last != run[LAST]:
            out.append([run[FIRST], last])
        run, last = s, s[LAST]
    if run is not None and last != run[LAST]:
        out.append([run[FIRST], last])
    return out


def _carve(segments: list[list[Any]], qty: int, wanted: Any, state: str, ref: str | None, *,
           to: tuple[str, list[list[Any]]] | None, start: int = 0) -> tuple[list[Any], int]:
    moves: list[list[int]] = []
    need = qty
    i = start
    while need and i < len(segments):
        s = segments[i]
        if not wanted(s):
            i += 1
            continue
        size = s[LAST] - s[FIRST] + 1
        take = min(need, size)
        moves.append([s[FIRST], s[FIRST], s[FIRST] + take - 1])
        need -= take
        carved = list(s)
        carved[LAST] = s[FIRST] + take - 1
        carved[STATE], carved[REF] = state, ref
        pieces = [] if to is not None else [carved]
        if to is not None:
            carved[OWNER] = to[0]
            insort(to[1], carved, key=_first)
        if take < size:
            tail = list(s)
            tail[FIRST] = s[FIRST] + take
            pieces.append(tail)
        segments[i:i + 1] = pieces
        i += len(pieces) - (1 if take < size else 0)
    if need:
        raise InsufficientHoldings("reference")
    return moves, i


# -- the machine -----------------------------------------------------------------------------

class PoolMachine(RuleBasedStateMachine):
    @initialize(sizes=st.lists(st.integers(1, 300), min_size=OWNERS, max_size=OWNERS))
    def start(self, sizes: list[int]) -> None:
        self.firms = [Enterprise.register(credit_code=code(n), name=f"Firm {n}",
                                          sector="PAPER", prefecture="SHENZHEN",
                                          basin="MAOZHOU", direct_discharger=True, at=AT)
                      for n in range(OWNERS)]
        self.i = Instrument.open(kind="COD", vintage=2025, zone="MAOZHOU", at=AT)
        for n, size in enumerate(sizes):
            self.i.issue(lot_id=f"L{n}", owner=self.firms[n].credit_code, retrofit="r",
                         retrofit_reference=f"R{n}", quantity=size,
                         expires_on=("2026-12-31", "2030-12-31")[n % 2], evidence=[],
                         agencies={}, at=AT)
        self.events = list(self.i.collect_events())
        self.n = 0
        self.refs: list[str] = []
        self.index_built = False

    def code(self, n: int) -> str:
        return str(self.firms[n % OWNERS].credit_code)

    def commit(self) -> None:
        self.events += self.i.collect_events()

    def pooled(self, owner: str) -> int:
        return sum(b[LAST] - b[FIRST] + 1 for b in self.i.blocks.values()
                   if b[OWNER] == owner and b[STATE] == "reserved" and b[REF] == POOL)

    @rule(data=st.data(), at=st.sampled_from([AT, AT, "2027-06-01T10:00:00+08:00"]))
    def batch(self, data: st.DataObject, at: str) -> None:
        """Mostly batches that fit (sellers sell at most what they have in the pool or reserve
        in the batch), sometimes ones that ask for too much."""
        owners = st.integers(0, OWNERS - 1)
        reserve = {self.code(o): q for o, q in data.draw(st.dictionaries(owners, units)).items()}
        room = {self.code(o): self.pooled(self.code(o)) + reserve.get(self.code(o), 0)
                for o in range(OWNERS)}
        greedy = data.draw(st.integers(0, 9)) == 0
        transfers = []
        for k, (s, b, asked) in enumerate(data.draw(st.lists(st.tuples(owners, owners, units),
                                                             max_size=8))):
            seller = self.code(s)
            q = asked if greedy else min(asked, room[seller])
            if s != b and q:
                transfers.append([seller, self.code(b), q, f"t{k}"])
                room[seller] -= q
        release = {}
        for o, asked in data.draw(st.dictionaries(owners, units)).items():
            owner = self.code(o)
            q = asked if greedy else min(asked, room[owner])
            if owner not in reserve and q:
                release[owner] = q
        try:
            expected = reference_plan(self.i, reserve=reserve, transfers=transfers,
                                      release=release, on=at[:10])
        except InsufficientHoldings:
            expected = None
        before = comparable(self.i)
        try:
            self.i.settle_batch(pool=POOL, reserve=reserve, transfers=transfers,
                                release=release, rule_version="v", ref=f"b{self.n}", at=at)
        except InsufficientHoldings:
            assert expected is None
            assert comparable(self.i) == before and not self.i.pending_events
            event("batch refused")
            return
        finally:
            self.index_built = True
            self.n += 1
        assert expected is not None
        event(f"batch settled, {'some' if expected[1] else 'no'} merges")
        if expected[0]:
            settled = self.i.pending_events[-1]
            assert settled.steps == expected[0]  # type: ignore[attr-defined]
            assert sorted(settled.merges) == sorted(expected[1])  # type: ignore[attr-defined]
        self.commit()

    @rule(owner=st.integers(0, OWNERS - 1), qty=units)
    def reserve_elsewhere(self, owner: int, qty: int) -> None:
        ref = f"listing-{self.n}"
        self.n += 1
        try:
            self.i.reserve(owner=self.firms[owner], quantity=qty, ref=ref, at=AT)
        except RegistryError:
            return
        self.refs.append(ref)
        self.commit()

    @rule(data=st.data())
    def release_elsewhere(self, data: st.DataObject) -> None:
        if self.refs:
            ref = self.refs.pop(data.draw(st.integers(0, len(self.refs) - 1)))
            self.i.release(ref=ref, at=AT)
            self.commit()

    @rule(seller=st.integers(0, OWNERS - 1), buyer=st.integers(0, OWNERS - 1), qty=units)
    def transfer(self, seller: int, buyer: int, qty: int) -> None:
        try:
            self.i.transfer(seller=self.firms[seller], buyer=self.firms[buyer], quantity=qty,
                            rules=R, ref=f"T{self.n}", at=AT)
        except RegistryError:
            return
        self.commit()

    @rule(seller=st.integers(0, OWNERS - 1), buyer=st.integers(0, OWNERS - 1), qty=units,
          back=st.booleans())
    def take_from_the_pool_directly(self, seller: int, buyer: int, qty: int,
                                    back: bool) -> None:
        """Ordinary commands on pool units (the index follows each carved range)."""
        try:
            if back:
                self.i.release(ref=POOL, quantity=qty, at=AT)
            else:
                self.i.transfer(seller=self.firms[seller], buyer=self.firms[buyer],
                                quantity=qty, rules=R, ref=f"T{self.n}", at=AT,
                                from_reservation=POOL)
        except RegistryError:
            return
        event("pool units moved outside a batch")
        self.commit()

    @rule(owner=st.integers(0, OWNERS - 1), qty=st.none() | units)
    def freeze_and_maybe_unfreeze(self, owner: int, qty: int | None) -> None:
        ref = f"F{self.n}"
        self.n += 1
        try:
            self.i.freeze(owner=self.code(owner), quantity=qty, ref=ref, reason="inquiry",
                          at=AT)
        except RegistryError:
            return
        self.commit()
        if qty is not None and qty % 2:
            self.i.unfreeze(ref=ref, at=AT)
            self.commit()

    @rule(as_of=st.sampled_from(["2027-01-01", "2031-01-01"]))
    def expire(self, as_of: str) -> None:
        if self.i.expire(as_of=as_of, at=AT):
            self.commit()

    @rule(lot=st.integers(0, OWNERS - 1))
    def revoke(self, lot: int) -> None:
        try:
            self.i.revoke_lot(lot_id=f"L{lot}", reason="spot check", ref=f"SC{self.n}", at=AT)
        except RegistryError:
            return
        self.commit()

    @invariant()
    def index_equals_a_fresh_build(self) -> None:
        index = self.i.pool_index()
        assert (index is not None) == self.index_built
        if index is not None:
            assert index == PoolIndex.of(POOL, self.i.blocks)

    @invariant()
    def blocks_partition_the_issued_range_and_agreeing_neighbours_are_merged(self) -> None:
        blocks = list(self.i.iter_blocks())
        assert blocks[0][FIRST] == 1 and blocks[-1][LAST] == self.i.issued()
        for a, b in itertools.pairwise(blocks):
            assert a[LAST] + 1 == b[FIRST]
            assert a[OWNER:] != b[OWNER:], f"{a} and {b} agree but were not merged"
        index: dict[str, list[int]] = {}
        for b in blocks:
            index.setdefault(b[OWNER], []).append(b[FIRST])
        assert self.i.owned == index

    @invariant()
    def replay_rebuilds_the_same_state(self) -> None:
        rebuilt = None
        for stored in self.events:
            rebuilt = stored.mutate(rebuilt)
        assert rebuilt is not None and comparable(rebuilt) == comparable(self.i)
        assert rebuilt.pool_index() is None  # derived: not carried by events


TestPoolMachine = PoolMachine.TestCase
TestPoolMachine.settings = settings(
    max_examples=100, stateful_step_count=30, deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

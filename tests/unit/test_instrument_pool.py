"""The exchange's pool index is derived: never stored, rebuilt on demand, copied with the
aggregate; positions read from it match the blocks."""

from __future__ import annotations

import copy

from eventsourcing.domain import Snapshot

from domain.instrument import Instrument
from domain.instrument_pool import PoolIndex
from registry.replay import comparable

AT = "2025-03-01T09:00:00+08:00"
POOL = "exchange:COD-2025-MAOZHOU"


def instrument() -> Instrument:
    i = Instrument.open(kind="COD", vintage=2025, zone="MAOZHOU", at=AT)
    for n, owner in enumerate(("S1", "S2")):
        i.issue(lot_id=f"L{n}", owner=owner, retrofit="r", retrofit_reference=f"R{n}",
                quantity=1_000, expires_on=("2025-02-28", "2030-12-31")[n], evidence=[],
                agencies={}, at=AT)
    return i


def test_positions_count_usable_units_only() -> None:
    i = instrument()  # S1's lot has already expired
    assert i.pool_index() is None
    assert i.exchange_positions(pool=POOL, on=AT[:10]) == {"S2": [1_000, 0]}
    i.freeze(owner="S2", quantity=400, ref="F1", reason="inquiry", at=AT)
    assert i.exchange_position("S2", pool=POOL, on=AT[:10]) == [600, 0]
    assert i.pool_index() == PoolIndex.of(POOL, i.blocks)  # kept up to date by the freeze


def test_pool_index_stays_out_of_snapshots_and_is_rebuilt_on_demand() -> None:
    i = instrument()
    i.settle_batch(pool=POOL, reserve={"S2": 300}, release={}, transfers=[
        ["S2", "B1", 100, "t1"]], rule_version="GD-2023.1", ref="b1", at=AT)
    assert i.pool_index() == PoolIndex.of(POOL, i.blocks)
    snapshot = Snapshot.take(i)
    assert "_pool_index" not in snapshot.state  # derived, never stored
    restored = snapshot.mutate(None)
    assert isinstance(restored, Instrument) and restored.pool_index() is None
    assert comparable(restored) == comparable(i)
    assert restored.exchange_positions(pool=POOL, on=AT[:10]) == i.exchange_positions(
        pool=POOL, on=AT[:10]) == {"S2": [700, 200], "B1": [100, 0]}
    copied = copy.deepcopy(i)
    assert copied.pool_index() == i.pool_index()
    assert copied.pool_index() is not i.pool_index()

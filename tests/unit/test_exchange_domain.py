"""Cash accounts, exact values, auction allocation and the instrument's batch settlement."""

from __future__ import annotations

import itertools

import pytest

from domain.errors import AlreadyExists, InsufficientFunds, InsufficientHoldings, InvalidInput
from domain.exchange.auction import allocate
from domain.exchange.cash import CashAccount
from domain.exchange.money import check_exact, value
from domain.exchange.params import MarketParams
from domain.instrument import FIRST, LAST, Instrument

AT = "2025-03-01T09:00:00+08:00"


def test_cash_deposit_withdraw_and_postings() -> None:
    a = CashAccount.open(owner="E1", at=AT)
    a.deposit(amount=1_000, reference="D1", administrator="adm", at=AT)
    with pytest.raises(AlreadyExists):
        a.deposit(amount=1_000, reference="D1", administrator="adm", at=AT)
    a.post(ref="b1", reserved=600, at=AT)
    with pytest.raises(InsufficientFunds):
        a.withdraw(amount=500, reference="W1", administrator="adm", at=AT)
    with pytest.raises(InvalidInput):
        a.post(ref="b2", paid=700, at=AT)
    a.post(ref="b2", paid=400, released=200, received=50, at=AT)
    assert (a.balance, a.reserved, a.available()) == (650, 0, 650)
    with pytest.raises(InvalidInput):
        a.deposit(amount=1.5, reference="D2", administrator="adm", at=AT)  # type: ignore[arg-type]


def test_values_are_exact_or_refused() -> None:
    assert value(800_000, 3_000) == 2_400_000
    with pytest.raises(InvalidInput):
        value(1, 1)
    with pytest.raises(InvalidInput):
        check_exact(1, 100)  # 1 fen/t on 100 kg lots would need tenths of a fen
    check_exact(10, 100)
    with pytest.raises(InvalidInput):
        MarketParams(reference_price=800_000, tick=1, lot=500, min_lot=500)


def test_auction_allocation_price_time_priority_cap_and_lots() -> None:
    bids = [["a", "A", 900, 8_000], ["b", "B", 800, 4_000], ["c", "C", 800, 4_000],
            ["d", "A", 950, 1_000]]
    price, alloc = allocate(bids, volume=10_000, cap=5_000, lot=1_000)
    assert alloc == {"d": 1_000, "a": 4_000, "b": 4_000, "c": 1_000}
    assert price == 800
    assert allocate([], volume=10_000, cap=5_000, lot=1_000) == (None, {})


def instrument() -> Instrument:
    i = Instrument.open(kind="COD", vintage=2025, zone="MAOZHOU", at=AT)
    for n, owner in enumerate(("S1", "S2")):
        i.issue(lot_id=f"L{n}", owner=owner, retrofit="r", retrofit_reference=f"R{n}",
                quantity=1_000, expires_on="2030-12-31", evidence=[], agencies={}, at=AT)
    return i


def partition_ok(i: Instrument) -> bool:
    blocks = list(i.iter_blocks())
    return (blocks[0][FIRST] == 1 and blocks[-1][LAST] == i.issued()
            and all(a[LAST] + 1 == b[FIRST] for a, b in itertools.pairwise(blocks)))


def test_batch_settlement_moves_lowest_serials_and_coalesces() -> None:
    i = instrument()
    pool = "exchange:COD-2025-MAOZHOU"
    i.settle_batch(pool=pool, reserve={"S1": 300, "S2": 100}, release={}, transfers=[
        ["S1", "B1", 100, "t1"], ["S1", "B1", 50, "t2"], ["S2", "S1", 100, "t3"]],
        rule_version="GD-2023.1", ref="b1", at=AT)
    assert i.balances() == {"S1": {"available": 800, "reserved": 150},
                            "B1": {"available": 150}, "S2": {"available": 900}}
    assert partition_ok(i)
    assert [b[FIRST] for b in i.iter_blocks()][:3] == [1, 151, 301]  # t1 + t2 merged for B1
    assert i.exchange_positions(pool=pool, on=AT[:10]) == {
        "S1": [800, 150], "B1": [150, 0], "S2": [900, 0]}
    version, pending = i.version, len(i.pending_events)
    with pytest.raises(InsufficientHoldings):
        i.settle_batch(pool=pool, reserve={}, release={"S1": 151}, transfers=[],
                       rule_version="GD-2023.1", ref="b2", at=AT)
    assert (i.version, len(i.pending_events)) == (version, pending)
    i.settle_batch(pool=pool, reserve={}, release={"S1": 150}, transfers=[],
                   rule_version="GD-2023.1", ref="b3", at=AT)
    assert i.balances()["S1"] == {"available": 950} and partition_ok(i)

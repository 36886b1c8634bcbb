"""Serial blocks, holdings and unit states on one instrument aggregate."""

from __future__ import annotations

import itertools

import pytest

from domain.enterprise import Enterprise
from domain.errors import (
    CreditRestricted,
    InsufficientHoldings,
    InvalidInput,
    OutsideTradingZone,
)
from domain.instrument import FIRST, LAST, Instrument, Term, legacy_term
from registry.rulebook import CURRENT_RULES, rules
from tests.support.world import AT, code

R = rules(CURRENT_RULES)


def firm(n: int, *, basin: str = "MAOZHOU", direct: bool = True,
         sector: str = "PAPER") -> Enterprise:
    return Enterprise.register(credit_code=code(n), name=f"Firm {n}", sector=sector,
                               prefecture="SHENZHEN", basin=basin, direct_discharger=direct,
                               at=AT)


def issued(quantity: int = 1_000, owner: Enterprise | None = None) -> Instrument:
    i = Instrument.open(kind="COD", vintage=2025, zone="MAOZHOU", at=AT)
    i.issue(lot_id="RF-1/COD", owner=(owner or firm(1)).credit_code, retrofit="r",
            retrofit_reference="RF-1", quantity=quantity, expires_on="2030-12-31",
            evidence=[], agencies={}, at=AT)
    return i


def covered(i: Instrument) -> list[tuple[int, int]]:
    return [(b[FIRST], b[LAST]) for b in i.iter_blocks()]


def test_transfer_splits_the_block_and_conserves_units() -> None:
    a, b = firm(1), firm(2)
    i = issued(1_000, a)
    i.transfer(seller=a, buyer=b, quantity=300, rules=R, ref="T1", at=AT)
    assert covered(i) == [(1, 300), (301, 1000)]
    assert i.balances() == {b.credit_code: {"available": 300}, a.credit_code: {"available": 700}}
    assert i.totals()["available"] == 1_000


def test_transfer_records_the_rule_version() -> None:
    a, b = firm(1), firm(2)
    i = issued(10, a)
    i.transfer(seller=a, buyer=b, quantity=5, rules=R, ref="T1", at=AT)
    event = i.collect_events()[-1]
    assert type(event).__name__ == "Transferred"
    assert event.rule_version == CURRENT_RULES  # type: ignore[attr-defined]


def test_transfer_rejected_outside_river_basin() -> None:
    a, b = firm(1), firm(2, basin="DANSHUI")
    i = issued(10, a)
    before = covered(i), i.balances()
    with pytest.raises(OutsideTradingZone):
        i.transfer(seller=a, buyer=b, quantity=5, rules=R, ref="T1", at=AT)
    assert (covered(i), i.balances()) == before


def test_restricted_enterprise_may_not_sell() -> None:
    a, b = firm(1), firm(2)
    i = issued(10, a)
    a.restrict(reason="fraud", reference="SC-1", at=AT)
    with pytest.raises(CreditRestricted):
        i.transfer(seller=a, buyer=b, quantity=5, rules=R, ref="T1", at=AT)


def test_cannot_transfer_more_than_available() -> None:
    a, b = firm(1), firm(2)
    i = issued(10, a)
    i.reserve(owner=a, quantity=6, ref="order-1", at=AT)
    with pytest.raises(InsufficientHoldings):
        i.transfer(seller=a, buyer=b, quantity=5, rules=R, ref="T1", at=AT)


def test_reserve_release_and_transfer_from_reservation() -> None:
    a, b = firm(1), firm(2)
    i = issued(100, a)
    i.reserve(owner=a, quantity=40, ref="order-1", at=AT)
    assert i.reserved_under("order-1") == 40
    i.transfer(seller=a, buyer=b, quantity=15, rules=R, ref="trade-1", at=AT,
               from_reservation="order-1")
    assert i.reserved_under("order-1") == 25
    assert i.release(ref="order-1", at=AT) == 25
    assert i.balances() == {b.credit_code: {"available": 15}, a.credit_code: {"available": 85}}


def test_frozen_units_cannot_move_until_unfrozen() -> None:
    a, b = firm(1), firm(2)
    i = issued(10, a)
    assert i.freeze(owner=a.credit_code, quantity=None, ref="F1", reason="investigation",
                    at=AT) == 10
    assert i.balances()[a.credit_code] == {"available": 10, "frozen": 10}
    with pytest.raises(InsufficientHoldings):
        i.transfer(seller=a, buyer=b, quantity=1, rules=R, ref="T1", at=AT)
    assert i.unfreeze(ref="F1", at=AT) == 10
    i.transfer(seller=a, buyer=b, quantity=1, rules=R, ref="T1", at=AT)


def test_units_expire_at_end_of_validity_and_cannot_trade_after_it() -> None:
    a, b = firm(1), firm(2)
    i = issued(10, a)
    late = "2031-01-02T00:00:00+08:00"
    with pytest.raises(InsufficientHoldings):
        i.transfer(seller=a, buyer=b, quantity=1, rules=R, ref="T1", at=late)
    assert i.expire(as_of="2030-12-31", at=late) == 0  # still valid on its last day
    assert i.expire(as_of="2031-01-01", at=late) == 10
    assert i.totals()["expired"] == 10


def test_revocation_claws_back_units_from_every_holder() -> None:
    a, b = firm(1), firm(2)
    i = issued(100, a)
    i.transfer(seller=a, buyer=b, quantity=30, rules=R, ref="T1", at=AT)
    i.consume(owner=b, quantity=10, approval="GDEE-1", at=AT)
    i.reserve(owner=a, quantity=5, ref="order-9", at=AT)
    outcome = i.revoke_lot(lot_id="RF-1/COD", reason="fraud", ref="SC-1", at=AT)
    assert outcome == {"lost_by_holder": {b.credit_code: 20, a.credit_code: 70},
                       "unrecoverable": 10, "reservations_hit": {"order-9": 5}}
    assert i.totals() == {"available": 0, "reserved": 0, "consumed": 10, "retired": 0,
                          "expired": 0, "revoked": 90}


def test_blocks_always_partition_the_issued_range() -> None:
    a, b = firm(1), firm(2)
    i = issued(50, a)
    i.transfer(seller=a, buyer=b, quantity=7, rules=R, ref="T1", at=AT)
    i.reserve(owner=b, quantity=3, ref="o", at=AT)
    i.transfer(seller=a, buyer=b, quantity=11, rules=R, ref="T2", at=AT)
    i.retire(owner=a, quantity=2, reason="voluntary", at=AT)
    blocks = covered(i)
    assert blocks[0][0] == 1 and blocks[-1][1] == 50
    assert all(x[1] + 1 == y[0] for x, y in itertools.pairwise(blocks))


def test_an_instrument_records_its_term_and_refuses_a_bad_one() -> None:
    i = Instrument.open(kind="COD", vintage=2025, zone="MAOZHOU", at=AT)
    assert i.term == Term(2026, 2030) == legacy_term(2025)
    assert (i.term.ends_on, i.term.years, i.term.label()) == ("2030-12-31", 5, "2026–2030")
    three = Instrument.open(kind="COD", vintage=2025, zone="MAOZHOU", at=AT,
                            term=Term.after(2025, 3))
    assert three.term == Term(2026, 2028)
    for bad in (Term(2025, 2029), Term(2027, 2026), Term(2026, "2030")):  # type: ignore[arg-type]
        with pytest.raises(InvalidInput):
            Instrument.open(kind="COD", vintage=2025, zone="MAOZHOU", at=AT, term=bad)
    with pytest.raises(InvalidInput):
        Term.after(2025, 0)

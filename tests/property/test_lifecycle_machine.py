"""Lifecycle changes interleaved with every trading mode leave nothing stranded.

Orders, trades waiting for verification, agreements, auctions, holds and expansion
applications run side by side with revocations, expiry, freezes, credit restrictions and halts.
After every step: every reserved fen and unit belongs to a live order, pending trade, bid,
agreement, auction, hold or application, in exactly the amount it needs; no order rests on
units it cannot deliver (the market's pool holds only reserved, unfrozen, unrevoked units, as
many as the resting sells and pending sales); units and cash are conserved.
"""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from domain.errors import RegistryError
from domain.exchange.agreement import ACCEPTED, OFFERED
from domain.exchange.auction import OPEN
from domain.exchange.market import pool_ref
from domain.exchange.money import value
from domain.exchange.orders import Cancel, Order
from domain.expansion import SUBMITTED
from registry import holds
from registry.bootstrap import build_registry
from tests.integration.test_exchange_journeys import COD, PRICE
from tests.support.world import AT, build_world, code, issue

ticks = st.integers(min_value=-4, max_value=4).map(lambda t: PRICE + t * 10_000)
lots = st.integers(min_value=1, max_value=8).map(lambda n: n * 1_000)
DEPOSIT = 100_000_000
LATER = "2031-01-02T09:00:00+08:00"


class LifecycleMachine(RuleBasedStateMachine):
    @initialize()
    def start(self) -> None:
        app = self.app = build_registry({"REGISTRY_STORE": "memory"})
        w = self.w = build_world(app)
        self.buyer = code(100)
        app.register_enterprise(credit_code=self.buyer, name="Dongguan Dyeing 1",
                                sector="TEXTILE_DYEING", prefecture="DONGGUAN",
                                basin="MAOZHOU", direct_discharger=True, at=AT)
        issue(app, w, reference="RF-D", enterprise=w.dyeing, kind="COD", baseline=60_000,
              post=0)
        issue(app, w, reference="RF-P", enterprise=w.paper, kind="COD", baseline=40_000,
              post=0)
        self.parties = [w.dyeing, w.paper, self.buyer]
        for n, who in enumerate(self.parties):
            app.exchange.deposit(enterprise=who, amount=DEPOSIT, reference=f"DEP-{n}",
                                 administrator="cash", at=AT)
        app.exchange.open_market(instrument=COD, administrator="admin-1", at=AT,
                                 reference_price=PRICE, sessions=[])
        self.ids = itertools.count()
        self.agreements: list[str] = []
        self.auctions: list[str] = []
        self.expansions: list[str] = []
        self.freezes: list[str] = []
        self.revoked: set[str] = set()
        self.at = AT
        self.issued = app.instrument(COD).issued()

    def next_id(self, prefix: str) -> str:
        return f"{prefix}{next(self.ids)}"

    # -- trading -------------------------------------------------------------------------------

    @rule(data=st.data(), size=st.integers(1, 5))
    def orders(self, data: st.DataObject, size: int) -> None:
        resting = list(self.app.exchange.market(COD).orders.items())
        requests: list[Any] = []
        for _ in range(size):
            if resting and data.draw(st.integers(0, 3)) == 0:
                oid, info = resting.pop(data.draw(st.integers(0, len(resting) - 1)))
                requests.append(Cancel(oid, info.account, "u"))
                continue
            requests.append(Order(self.next_id("o"), data.draw(st.sampled_from(self.parties)),
                                  data.draw(st.sampled_from("BS")),
                                  data.draw(st.sampled_from("LLLM")), data.draw(ticks),
                                  data.draw(lots), "u"))
        self.app.exchange.submit_orders(instrument=COD, requests=requests, at=self.at)

    @rule(threshold=st.sampled_from((None, 0)))
    def threshold(self, threshold: int | None) -> None:
        self.app.exchange.set_market_parameters(instrument=COD, administrator="admin-p", at=self.at,
                                                verify_above=threshold)

    @precondition(lambda self: bool(self.app.exchange.market(COD).pending))
    @rule(data=st.data(), approve=st.booleans())
    def resolve(self, data: st.DataObject, approve: bool) -> None:
        trade = data.draw(st.sampled_from(sorted(self.app.exchange.market(COD).pending)))
        if approve:
            try:
                self.app.exchange.approve_trade(instrument=COD, trade_id=trade,
                                                administrator="admin-v", at=self.at)
                return
            except RegistryError:
                pass
        self.app.exchange.reject_trade(instrument=COD, trade_id=trade, administrator="admin-v",
                                       reason="review", at=self.at)

    @rule(seller=st.integers(0, 2), buyer=st.integers(0, 2), qty=lots, accept=st.booleans())
    def agreement(self, seller: int, buyer: int, qty: int, accept: bool) -> None:
        ref = self.next_id("AG")
        s, b = self.parties[seller], self.parties[buyer]
        try:
            self.app.exchange_modes.offer_agreement(reference=ref, instrument=COD, seller=s,
                                                    buyer=b, price=PRICE, qty=qty, offered_by="s",
                                                    at=self.at)
            self.agreements.append(ref)
            if accept:
                self.app.exchange_modes.accept_agreement(reference=ref, buyer=b, accepted_by="b",
                                                         at=self.at)
        except RegistryError:
            pass

    @precondition(lambda self: bool(self.agreements))
    @rule(data=st.data(), verify=st.booleans())
    def end_agreement(self, data: st.DataObject, verify: bool) -> None:
        ref = data.draw(st.sampled_from(self.agreements))
        try:
            if verify:
                self.app.exchange_modes.verify_agreement(reference=ref, administrator="admin-v",
                                                         at=self.at)
            else:
                self.app.exchange_modes.end_agreement(reference=ref, state="rejected", by="admin-v",
                                                      reason="no", at=self.at)
        except RegistryError:
            pass

    @rule(seller=st.integers(0, 2), volume=st.integers(2, 10).map(lambda n: n * 1_000))
    def auction(self, seller: int, volume: int) -> None:
        auction_id = self.next_id("AU")
        try:
            self.app.exchange_modes.open_auction(auction_id=auction_id, instrument=COD,
                                                 seller=self.parties[seller], volume=volume,
                                                 reserve_price=PRICE, min_bid=1_000,
                                                 administrator="admin-1", at=self.at)
            self.auctions.append(auction_id)
        except RegistryError:
            pass

    @precondition(lambda self: bool(self.auctions))
    @rule(data=st.data(), bidder=st.integers(0, 2), qty=lots,
          action=st.sampled_from(("bid", "bid", "clear", "void")))
    def auction_step(self, data: st.DataObject, bidder: int, qty: int, action: str) -> None:
        auction_id = data.draw(st.sampled_from(self.auctions))
        try:
            if action == "bid":
                self.app.exchange_modes.place_bid(auction_id=auction_id, bid_id=self.next_id("x"),
                                                  bidder=self.parties[bidder], price=PRICE, qty=qty,
                                                  entered_by="b", at=self.at)
            elif action == "clear":
                self.app.exchange_modes.clear_auction(auction_id=auction_id,
                                                      administrator="admin-2", at=self.at)
            else:
                self.app.lifecycle.void_auction(auction_id=auction_id, reason="void",
                                                administrator="admin-2", at=self.at)
        except RegistryError:
            pass

    @rule(owner=st.integers(0, 2), qty=lots, release=st.booleans())
    def hold(self, owner: int, qty: int, release: bool) -> None:
        who = self.parties[owner]
        try:
            if release:
                holds.release(self.app, instrument=COD, owner=who, ref="H", at=self.at)
            else:
                holds.reserve(self.app, instrument=COD, owner=who, quantity=qty, ref="H",
                              at=self.at)
        except RegistryError:
            pass

    @rule(owner=st.integers(0, 2), qty=lots, decide=st.sampled_from((None, True, False)))
    def expansion(self, owner: int, qty: int, decide: bool | None) -> None:
        try:
            if decide is None or not self.expansions:
                ref = self.next_id("EX")
                self.app.holdings.submit_expansion(reference=ref, enterprise=self.parties[owner],
                                                   instrument=COD, quantity=qty, project="line",
                                                   at=self.at)
                self.expansions.append(ref)
            elif decide:
                self.app.holdings.approve_expansion(reference=self.expansions[-1],
                                                    administrator="admin-x", approval="APP",
                                                    at=self.at)
            else:
                self.app.holdings.reject_expansion(reference=self.expansions[-1],
                                                   administrator="admin-x", reason="no", at=self.at)
        except RegistryError:
            pass

    # -- lifecycle changes ---------------------------------------------------------------------

    @rule(which=st.sampled_from(("RF-D", "RF-P")), restrict=st.booleans())
    def revoke(self, which: str, restrict: bool) -> None:
        before = self.expected()
        try:
            self.app.retrofits.revoke_retrofit(reference=which, reason="fraud",
                                               spot_check=f"SC-{which}", at=self.at,
                                               restrict_enterprise=restrict)
            self.revoked.add(which)
            event(f"revocation with dependents: {bool(before[0] or before[1])}")
        except RegistryError:
            pass

    @rule(owner=st.integers(0, 2), qty=st.sampled_from((None, 1_000, 30_000, 90_000)),
          unfreeze=st.booleans())
    def freeze(self, owner: int, qty: int | None, unfreeze: bool) -> None:
        try:
            if unfreeze and self.freezes:
                self.app.holdings.unfreeze(instrument=COD, ref=self.freezes.pop(), at=self.at)
                return
            ref = self.next_id("FZ")
            self.app.holdings.freeze(instrument=COD, owner=self.parties[owner], ref=ref,
                                     reason="court order", at=self.at, quantity=qty)
            self.freezes.append(ref)
            event(f"freeze of {qty}")
        except RegistryError:
            pass

    @rule(owner=st.integers(0, 2), restore=st.booleans())
    def restrict(self, owner: int, restore: bool) -> None:
        who = self.parties[owner]
        try:
            if restore:
                self.app.restore_enterprise(credit_code=who, reason="ok", reference="R",
                                            at=self.at)
            else:
                ended = self.app.lifecycle.restrict_enterprise(credit_code=who, reason="violation",
                                                               reference="R", at=self.at)
                event(f"restriction ended {min(len(ended['ended']), 2)}")
        except RegistryError:
            pass

    @rule(halt=st.booleans())
    def halt(self, halt: bool) -> None:
        try:
            if halt:
                self.app.lifecycle.halt_market(instrument=COD, reason="anomaly", administrator="a",
                                               at=self.at)
            else:
                self.app.lifecycle.resume_market(instrument=COD, reason="ok", administrator="a",
                                                 at=self.at)
        except RegistryError:
            pass

    @precondition(lambda self: self.at == AT)
    @rule()
    def expire(self) -> None:
        self.at = LATER  # from now on every unit of the 2025 vintage is past its validity
        self.app.holdings.expire(as_of=LATER[:10], at=LATER)

    # -- invariants ----------------------------------------------------------------------------

    def expected(self) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
        """What every live dependent holds: account -> fen, ref -> owner -> units."""
        cash: dict[str, int] = {}
        units: dict[str, dict[str, int]] = {}

        def add_cash(who: str, amount: int) -> None:
            cash[who] = cash.get(who, 0) + amount

        def add_units(ref: str, who: str, n: int) -> None:
            if n:
                per = units.setdefault(ref, {})
                per[who] = per.get(who, 0) + n

        m = self.app.exchange.market(COD)
        for o in m.orders.values():
            account, side, price, remaining = o.account, o.side, o.price, o.remaining
            if side == "B":
                add_cash(account, value(price, remaining))
            else:
                add_units(pool_ref(COD), account, remaining)
        for t in m.pending.values():
            add_cash(t["buyer"], t["value"])
            add_units(pool_ref(COD), t["seller"], t["qty"])
        for ref in self.agreements:
            a = self.app.exchange_modes.agreement(ref)
            if a.state in (OFFERED, ACCEPTED):
                add_units(a.reservation_ref, a.seller, a.qty)
            if a.state == ACCEPTED:
                add_cash(a.buyer, a.amount)
        for auction_id in self.auctions:
            x = self.app.exchange_modes.auction(auction_id)
            if x.state == OPEN:
                add_units(x.reservation_ref, x.seller, x.volume)
                for b in x.bids:
                    add_cash(b[1], value(b[2], b[3]))
        for ref in self.expansions:
            x = self.app.expansion(ref)
            if x.state == SUBMITTED:
                add_units(x.reservation_ref, x.enterprise, x.quantity)
        return cash, units

    @invariant()
    def every_reservation_belongs_to_a_live_dependent(self) -> None:
        cash, units = self.expected()
        for who in self.parties:
            a = self.app.exchange.cash_account(who)
            assert a.reserved == cash.get(who, 0), who
        i = self.app.instrument(COD)
        found = i.reservations()
        held = {ref: per for ref, per in found.items() if ref.startswith(holds.PREFIX)}
        for ref, per in held.items():
            assert list(per) == [ref.split(":")[1]]  # a hold holds its owner's units only
        assert {r: p for r, p in found.items() if r not in held} == units

    @invariant()
    def no_order_rests_on_units_it_cannot_deliver(self) -> None:
        i = self.app.instrument(COD)
        for b in i.iter_blocks():
            if b[3] == "reserved" and b[5] == pool_ref(COD):
                assert not b[6], b  # not frozen
                assert i.lots[b[4]]["expires_on"] >= self.at[:10], b
        for info in self.app.exchange.market(COD).orders.values():
            assert self.app.enterprise(info.account).standing == "good"

    @invariant()
    def conserved(self) -> None:
        accounts = [self.app.exchange.cash_account(w) for w in self.parties]
        assert sum(a.balance for a in accounts) == DEPOSIT * len(self.parties)
        assert all(0 <= a.reserved <= a.balance for a in accounts)
        i = self.app.instrument(COD)
        assert sum(i.totals().values()) == i.issued() == self.issued


TestLifecycleMachine = LifecycleMachine.TestCase
TestLifecycleMachine.settings = settings(
    max_examples=60, stateful_step_count=30, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

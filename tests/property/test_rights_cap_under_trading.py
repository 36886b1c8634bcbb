"""The cap on surplus holds under trading: order-book batches, agreements and off-exchange
transfers interleaved with further issuance.

After every step, for every enterprise with a confirmed COD right:
- issued surplus it still holds never exceeds its confirmed right less its verified
  post-retrofit level (and expansions) less its remaining obligation (the cap);
- trading never changes the part of a right that is not held as units (``right − held``):
  the seller's right falls with its units, the buyer's rises with them, so buying units never
  lets an enterprise issue more surplus of its own;
- the rights of all enterprises add up to the same total (trades move rights, never make them).
"""

from __future__ import annotations

import contextlib
import itertools

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from domain.errors import RegistryError
from domain.exchange.orders import Order
from registry.bootstrap import build_registry
from tests.integration.test_exchange_journeys import COD, PRICE
from tests.support.world import AT, build_world, code, ensure_right, issue

LOT = 1_000
RIGHTS = (60_000, 40_000, 30_000)


class RightsUnderTrading(RuleBasedStateMachine):
    @initialize()
    def world(self) -> None:
        self.app = build_registry({"REGISTRY_STORE": "memory"})
        self.w = build_world(self.app)
        extra = code(100)
        self.app.register_enterprise(credit_code=extra, name="Dongguan Dyeing 1",
                                     sector="TEXTILE_DYEING", prefecture="DONGGUAN",
                                     basin="MAOZHOU", direct_discharger=True, at=AT)
        self.firms = [self.w.dyeing, self.w.paper, extra]
        for n, (firm, right) in enumerate(zip(self.firms, RIGHTS, strict=True)):
            ensure_right(self.app, firm, "COD", quantity=right)
            self.app.exchange.deposit(enterprise=firm, amount=10**10, reference=f"D-{n}",
                                      administrator="cash", at=AT)
        issue(self.app, self.w, reference="RF-0", enterprise=self.w.dyeing, kind="COD",
              baseline=60_000, post=30_000)
        self.app.exchange.open_market(instrument=COD, administrator="admin-1", at=AT,
                                      reference_price=PRICE, sessions=[])
        self.ids = itertools.count(1)
        self.total = sum(RIGHTS)
        self.unheld = {
            f: self._right(f) - self.app.rights.held_surplus(f, "COD") for f in self.firms}

    def _right(self, firm: str) -> int:
        return self.app.rights.confirmed_right(firm, "COD").quantity

    @rule(s=st.integers(0, 2), b=st.integers(0, 2), lots=st.integers(1, 12))
    def trade_on_the_book(self, s: int, b: int, lots: int) -> None:
        n = next(self.ids)
        self.app.exchange.submit_orders(instrument=COD, at=AT, requests=[
            Order(f"s{n}", self.firms[s], "S", "L", PRICE, lots * LOT, "t"),
            Order(f"b{n}", self.firms[b], "B", "L", PRICE, lots * LOT, "t")])
        # nothing left resting (a self-trade, too few units): the next step starts flat
        for oid, o in list(self.app.exchange.market(COD).orders.items()):
            self.app.exchange.cancel_order(instrument=COD, order_id=oid, account=o[0],
                                           entered_by="t", at=AT)

    @rule(s=st.integers(0, 2), b=st.integers(0, 2), lots=st.integers(1, 12))
    def agree(self, s: int, b: int, lots: int) -> None:
        ref = f"AG-{next(self.ids)}"
        try:
            self.app.exchange_modes.offer_agreement(reference=ref, instrument=COD,
                                                    seller=self.firms[s], buyer=self.firms[b],
                                                    price=PRICE, qty=lots * LOT,
                                                    offered_by="seller", at=AT)
        except RegistryError:
            return
        self.app.exchange_modes.accept_agreement(reference=ref, buyer=self.firms[b],
                                                 accepted_by="buyer", at=AT)
        self.app.exchange_modes.verify_agreement(reference=ref, administrator="admin-2", at=AT)

    @rule(s=st.integers(0, 2), b=st.integers(0, 2), qty=st.integers(1, 15_000))
    def transfer_off_exchange(self, s: int, b: int, qty: int) -> None:
        with contextlib.suppress(RegistryError):
            self.app.holdings.transfer(instrument=COD, seller=self.firms[s], buyer=self.firms[b],
                                       quantity=qty, ref=f"T-{next(self.ids)}", at=AT,
                                       reason="court order", administrator="admin-3")

    @rule(firm=st.integers(0, 2), baseline=st.integers(1_000, 60_000),
          reduction=st.integers(1, 40_000))
    def issue_more(self, firm: int, baseline: int, reduction: int) -> None:
        code_ = self.firms[firm]
        held = self.app.rights.held_surplus(code_, "COD")
        with contextlib.suppress(RegistryError):  # above the cap, most often: none issued
            issue(self.app, self.w, reference=f"RF-{next(self.ids)}", enterprise=code_,
                  kind="COD", baseline=baseline, post=max(0, baseline - reduction))
        self.unheld[code_] -= self.app.rights.held_surplus(code_, "COD") - held

    @invariant()
    def cap_holds(self) -> None:
        total = 0
        for firm in self.firms:
            right = self.app.rights.confirmed_right(firm, "COD")
            held = self.app.rights.held_surplus(firm, "COD")
            total += right.quantity
            assert right.quantity - held == self.unheld[firm], firm
            if right.post_retrofit_level is not None:
                assert held <= right.headroom(remaining_obligation=0), firm
        assert total == self.total


RightsUnderTrading.TestCase.settings = settings(
    max_examples=40, stateful_step_count=12, deadline=None,
    suppress_health_check=[HealthCheck.too_slow])
TestRightsUnderTrading = RightsUnderTrading.TestCase

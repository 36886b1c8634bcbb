"""Random order streams through the exchange service keep every book straight.

After every step: cash in all accounts = deposits − withdrawals; no account reserves more than
it holds; every unit and fen reserved is explained by a resting order or a trade waiting for
verification (so reservations are released when orders end); units are conserved; and the book
rebuilt from the stored events equals the live one. Positions the market writer carries from
batch to batch equal a fresh read of the instrument, also after freezes and transfers made
outside the exchange.
"""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from domain.errors import RegistryError
from domain.exchange.market import pool_ref
from domain.exchange.orders import Cancel, Order
from domain.instrument import Instrument
from domain.instrument_pool import PoolIndex
from registry.book_lock import exchange_lock
from registry.bootstrap import build_registry
from registry.replay import comparable
from tests.integration.test_exchange_journeys import COD, NOX, PRICE, check_books, exchange_world
from tests.support.world import AT

ROLES = ("dyeing", "paper", "electronics", "power")
ticks = st.integers(min_value=-8, max_value=8).map(lambda t: PRICE + t * 10_000)
lots = st.integers(min_value=1, max_value=12).map(lambda n: n * 1_000)


class ExchangeMachine(RuleBasedStateMachine):
    @initialize()
    def start(self) -> None:
        self.app = build_registry({"REGISTRY_STORE": "memory"})
        self.w = exchange_world(self.app)
        self.ids = itertools.count()
        self.deposited = 4 * 100_000_000
        self.withdrawn = 0
        self.issued = {c: self.app.instrument(c).issued() for c in (COD, NOX)}

    def who(self, role: str) -> str:
        return str(getattr(self.w, role))

    @rule(code=st.sampled_from((COD, NOX)), data=st.data(),
          size=st.integers(min_value=1, max_value=8))
    def batch(self, code: str, data: st.DataObject, size: int) -> None:
        requests: list[Any] = []
        resting = list(self.app.exchange.market(code).orders.items())
        for _ in range(size):
            if resting and data.draw(st.integers(0, 4)) == 0:
                oid, info = resting.pop(data.draw(st.integers(0, len(resting) - 1)))
                requests.append(Cancel(oid, info.account, "u"))
                continue
            role = data.draw(st.sampled_from(ROLES))
            kind = data.draw(st.sampled_from("LLLM"))
            requests.append(Order(f"o{next(self.ids)}", self.who(role), data.draw(
                st.sampled_from("BS")), kind, data.draw(ticks), data.draw(lots), f"u-{role}"))
        position = self.app.queries.position()
        outcomes = self.app.exchange.submit_orders(instrument=code, requests=requests, at=AT)
        if all(o.status == "rejected" for o in outcomes):
            assert self.app.queries.position() == position  # refusals write nothing

    @rule(code=st.sampled_from((COD, NOX)),
          threshold=st.sampled_from((None, 0, 5_000_000)))
    def set_threshold(self, code: str, threshold: int | None) -> None:
        self.app.exchange.set_market_parameters(instrument=code, administrator="admin-p", at=AT,
                                                verify_above=threshold)

    @precondition(lambda self: bool(self.app.exchange.verification_queue()))
    @rule(data=st.data(), approve=st.booleans())
    def resolve(self, data: st.DataObject, approve: bool) -> None:
        t = data.draw(st.sampled_from(self.app.exchange.verification_queue()))
        try:
            if approve:
                self.app.exchange.approve_trade(instrument=t["instrument"], trade_id=t["trade"],
                                                administrator="admin-v", at=AT)
                return
        except RegistryError:
            pass  # a hard check still fails: the only way out is rejection
        self.app.exchange.reject_trade(instrument=t["instrument"], trade_id=t["trade"],
                                       administrator="admin-v", reason="review", at=AT)

    @rule(role=st.sampled_from(ROLES), amount=st.integers(1, 5_000_000), out=st.booleans())
    def cash_record(self, role: str, amount: int, out: bool) -> None:
        ref = f"R{next(self.ids)}"
        try:
            if out:
                self.app.exchange.withdraw(enterprise=self.who(role), amount=amount, reference=ref,
                                           administrator="cash", at=AT)
                self.withdrawn += amount
            else:
                self.app.exchange.deposit(enterprise=self.who(role), amount=amount, reference=ref,
                                          administrator="cash", at=AT)
                self.deposited += amount
        except RegistryError:
            pass

    @rule(role=st.sampled_from(ROLES), code=st.sampled_from((COD, NOX)),
          qty=st.integers(1, 3_000), unfreeze=st.booleans())
    def outside_the_exchange(self, role: str, code: str, qty: int, unfreeze: bool) -> None:
        """Freezes and direct transfers change positions behind the market writer's back."""
        ref = f"F{next(self.ids)}"
        try:
            if unfreeze:
                self.app.holdings.unfreeze(instrument=code, ref=self.last_freeze, at=AT)
            elif qty % 2:
                self.app.holdings.freeze(instrument=code, owner=self.who(role), ref=ref,
                                         reason="check", at=AT, quantity=qty)
                self.last_freeze = ref
            else:
                self.app.holdings.transfer(instrument=code, seller=self.who(role),
                                           buyer=self.w.paper, quantity=qty, ref=ref, at=AT,
                                           reason="correction", administrator="admin-t")
        except (RegistryError, AttributeError):
            pass

    @invariant()
    def carried_positions_are_fresh(self) -> None:
        for code in (COD, NOX):
            cache = self.app.exchange_writes.writer().positions(code)
            i = cache._instrument
            if i is None or i.version != cache._version:
                continue  # not carried: the next batch reads afresh
            for owner, p in cache._values.items():
                assert p == i.exchange_position(owner, pool=pool_ref(code), on=cache._on)
            fresh = self.app.instrument(code)
            if fresh.version == i.version:
                for owner, p in cache._values.items():
                    assert p == fresh.exchange_position(owner, pool=pool_ref(code),
                                                        on=cache._on)

    @invariant()
    def conserved(self) -> None:
        accounts = [self.app.exchange.cash_account(self.who(r)) for r in ROLES]
        assert sum(a.balance for a in accounts) == self.deposited - self.withdrawn
        assert all(0 <= a.reserved <= a.balance for a in accounts)
        for code, issued in self.issued.items():
            i = self.app.instrument(code)
            assert i.issued() == issued == sum(i.totals().values())
            index: dict[str, list[int]] = {}
            for b in i.iter_blocks():
                index.setdefault(b[2], []).append(b[0])
            assert i.owned == index  # the per-owner index matches the blocks
        check_books(self.app)

    @invariant()
    def the_writers_instrument_and_its_pool_index_match_the_store(self) -> None:
        """The exchange's cached instrument equals the stored one, and the pool index it has
        kept up to date batch after batch equals one built from its blocks. The writer brings
        its cache up to date before each batch, so it is compared after that same step."""
        for code in (COD, NOX):
            kind, vintage, zone = code.split("-", 2)
            writer = self.app.exchange_writes.writer()
            with exchange_lock(self.app.exchange_writes):
                writer.sync()
            live = writer.cache.get(Instrument.create_id(kind, int(vintage), zone))
            if live is None:
                continue
            assert comparable(live) == comparable(self.app.instrument(code))
            index = live.pool_index()
            if index is not None:
                assert index == PoolIndex.of(f"exchange:{code}", live.blocks)

    @invariant()
    def books_replay_exactly(self) -> None:
        for code in (COD, NOX):
            live = self.app.exchange_writes.writer().cache.get(self.app.exchange.market(code).id)
            if live is not None:
                assert self.app.exchange.market(code).book == live.book

    def teardown(self) -> None:
        # ending every order releases every reservation (no trade pending by then)
        if not hasattr(self, "app"):
            return
        for t in self.app.exchange.verification_queue():
            self.app.exchange.reject_trade(instrument=t["instrument"], trade_id=t["trade"],
                                           administrator="admin-v", reason="end", at=AT)
        for code in (COD, NOX):
            m = self.app.exchange.market(code)
            cancels = [Cancel(oid, info.account, "u") for oid, info in m.orders.items()]
            self.app.exchange.submit_orders(instrument=code, requests=cancels, at=AT)
            assert self.app.instrument(code).reserved_under(f"exchange:{code}") == 0
        for r in ROLES:
            assert self.app.exchange.cash_account(self.who(r)).reserved == 0


TestExchangeConservation = ExchangeMachine.TestCase
TestExchangeConservation.settings = settings(
    max_examples=30, stateful_step_count=12, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

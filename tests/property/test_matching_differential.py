"""Differential test: `OrderBook` against the naive `ReferenceMatcher` on random order streams.

Random limit, market, cancel and malformed operations over three accounts and a narrow price
range (so orders cross, queue and self-trade often). After every step: identical fills, errors and
STP cancels; equal snapshots; no crossed book; price-time priority of the fills; conservation of
every order's quantity; a snapshot round trip gives an equal book. At the end, replaying the
accepted commands into a fresh book rebuilds the same book.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from domain.matching import OrderBook, OrderRejected
from tests.support.reference_matcher import ReferenceMatcher

RULES: dict[str, Any] = {
    "tick": 5,
    "reference_price": 500,
    "band_pct": 10,
    "min_lot": 2,
    "max_order": 40,
}  # band [450, 550]

sides = st.sampled_from("BS")
accounts = st.sampled_from(["acme", "bolt", "coda"])
near_prices = st.integers(-4, 4).map(lambda d: 500 + 5 * d)
quantities = st.integers(2, 40)


class MatchingMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.book = OrderBook(**RULES)
        self.reference = ReferenceMatcher(**RULES)
        self.next_id = 0
        self.log: list[tuple[str, tuple[Any, ...]]] = []
        self.submitted: dict[int, int] = {}
        self.open: Counter[Any] = Counter()  # remaining quantity we expect to rest
        self.filled: Counter[Any] = Counter()
        self.cancelled: Counter[Any] = Counter()
        self.dropped: Counter[Any] = Counter()

    # -- commands -------------------------------------------------------------------------

    def _submit(
        self, side: Any, price: Any, qty: Any, order_id: Any, kind: Any, account: str
    ) -> None:
        args = (side, price, qty, order_id, kind, account)
        expected: Any
        actual: Any
        try:
            expected = self.reference.submit(*args)
        except OrderRejected as error:
            expected = type(error)
        try:
            actual = self.book.submit(*args)
        except OrderRejected as error:
            actual = type(error)
        assert actual == expected
        if isinstance(actual, type):
            return
        assert list(self.book.last_stp_cancels) == self.reference.last_stp_cancels
        self.log.append(("submit", args))
        self._account(side, price, qty, order_id, kind, actual)

    def _account(
        self, side: str, price: int, qty: int, order_id: int, kind: str, fills: list[Any]
    ) -> None:
        self.submitted[order_id] = qty
        for taker, maker, fill_price, fill_qty in fills:
            assert taker == order_id
            assert fill_qty > 0
            self.filled[taker] += fill_qty
            self.filled[maker] += fill_qty
            self.open[maker] -= fill_qty
            if kind == "L":
                assert fill_price <= price if side == "B" else fill_price >= price
        for maker in self.book.last_stp_cancels:
            self.cancelled[maker] += self.open.pop(maker)
        self._check_priority(side, fills)
        remainder = qty - self.filled[order_id]
        if kind == "L":
            self.open[order_id] = remainder
        else:
            self.dropped[order_id] = remainder

    @staticmethod
    def _check_priority(side: str, fills: list[Any]) -> None:
        """Better prices fill first; at one price, earlier orders (lower ids) fill first."""
        keys = [(price if side == "B" else -price, maker) for _, maker, price, _ in fills]
        assert keys == sorted(keys)

    def _new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    @rule(side=sides, price=near_prices, qty=quantities, account=accounts)
    def limit(self, side: str, price: int, qty: int, account: str) -> None:
        self._submit(side, price, qty, self._new_id(), "L", account)

    @rule(side=sides, qty=quantities, account=accounts, price=st.integers(-10, 10_000))
    def market(self, side: str, qty: int, account: str, price: int) -> None:
        self._submit(side, price, qty, self._new_id(), "M", account)

    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        order_id = data.draw(st.integers(0, self.next_id + 1), label="order_id")
        expected = self.reference.cancel(order_id)
        assert self.book.cancel(order_id) is expected
        if expected:
            self.cancelled[order_id] += self.open.pop(order_id)
            self.log.append(("cancel", (order_id,)))

    @rule(
        side=st.sampled_from(["B", "S", "X"]),
        price=st.integers(430, 570),
        qty=st.integers(-1, 45),
        kind=st.sampled_from(["L", "M", "?"]),
        account=accounts,
    )
    def arbitrary(self, side: str, price: int, qty: int, kind: str, account: str) -> None:
        """Anything, valid or not: off-tick, outside the band, lots too small or too large."""
        self._submit(side, price, qty, self._new_id(), kind, account)

    @precondition(lambda self: len(self.book) > 0)
    @rule(data=st.data(), side=sides, price=near_prices, qty=quantities, account=accounts)
    def reuse_resting_id(
        self, data: st.DataObject, side: str, price: int, qty: int, account: str
    ) -> None:
        resting = [o.order_id for o in self.reference.resting]
        order_id = data.draw(st.sampled_from(resting), label="resting id")
        self._submit(side, price, qty, order_id, "L", account)

    # -- invariants -----------------------------------------------------------------------

    @invariant()
    def same_book_as_reference(self) -> None:
        assert self.book.snapshot() == self.reference.snapshot()

    @invariant()
    def book_is_never_crossed(self) -> None:
        bid, ask = self.book.best_bid(), self.book.best_ask()
        if bid is not None and ask is not None:
            assert bid < ask

    @invariant()
    def every_order_quantity_is_conserved(self) -> None:
        for order_id, qty in self.submitted.items():
            resting = self.book.order(order_id)
            remaining = resting.remaining if resting else 0
            assert remaining == self.open.get(order_id, 0)
            accounted = self.filled[order_id] + self.cancelled[order_id] + self.dropped[order_id]
            assert accounted + remaining == qty

    @invariant()
    def snapshot_round_trip_is_equal(self) -> None:
        assert OrderBook.from_snapshot(self.book.snapshot()) == self.book

    @invariant()
    def depth_agrees_with_resting_orders(self) -> None:
        depth = self.book.depth(100)
        snapshot = self.book.snapshot()
        for levels, side in ((depth.bids, snapshot["bids"]), (depth.asks, snapshot["asks"])):
            assert [(lv.price, lv.qty, lv.orders) for lv in levels] == [
                (price, sum(o[1] for o in orders), len(orders)) for price, orders in side
            ]

    def teardown(self) -> None:
        replayed = OrderBook(**RULES)
        for command, args in self.log:
            getattr(replayed, command)(*args)
        assert replayed == self.book


MatchingMachine.TestCase.settings = settings(
    max_examples=150, stateful_step_count=60, deadline=None
)
TestMatchingDifferential = MatchingMachine.TestCase

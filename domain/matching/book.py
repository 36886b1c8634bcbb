"""A price-time priority limit order book for one instrument: the pure matching core.

Rules (``tests/support/reference_matcher.py`` implements the same rules naively, to test this one):

* An order has a side (``'B'`` buy, ``'S'`` sell), a kind (``'L'`` limit, ``'M'`` market), an
  integer price and quantity, a caller-chosen id and an account. A limit order trades against
  resting orders at its price or better and rests with its remainder. A market order is
  immediate-or-cancel: it trades at any price and its remainder is dropped, never rests; its
  price argument is ignored and not validated.
* Every fill trades at the resting (maker) order's price. Priority is price, then time: the best
  price first and, within a price, arrival order. A partial fill keeps the order's place.
* Self-trade prevention, policy **cancel resting**: when an incoming order reaches a resting order
  of the same account, that resting order is cancelled (all of its remaining quantity) and
  matching continues with the next order. The incoming order is never cut by STP. After each
  `submit`, ``last_stp_cancels`` lists the ids cancelled this way, in order, so the service can
  release their reservations and record them.
* Orders are checked before anything changes (see `domain.matching.rules` for the rules and the
  order in which they are checked); a rejected order raises an `OrderRejected` and leaves the
  book untouched. Order ids must differ from the ids of orders resting in the book
  (`DuplicateOrderId`); the book forgets filled and cancelled ids, so global uniqueness is the
  service's job.
* No I/O, clock, randomness or floats: the same calls always give the same fills and book.

Representation, chosen for speed in pure Python: an order is a small list
``[order_id, remaining, price, account, level]``; a price level is a list
``[live_orders, deque_of_orders, key, side]``. Each side keeps a dict ``key -> level`` and a
sorted list of keys whose *last* element is the best price: the key is the price for bids and
minus the price for asks. Cancel is O(1): the order is marked dead (remaining 0) and left in its
level's deque, to be skipped when matching reaches it; the level goes when its last live order
does, and a deque mostly made of dead orders is compacted.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import deque
from collections.abc import Sequence
from typing import Any, NoReturn

from domain.matching.errors import DuplicateOrderId, InvalidOrder
from domain.matching.rules import DEFAULT_BAND_PCT, MAX_INT, BookRules, check_order
from domain.matching.views import Account, Depth, DepthLevel, Fill, OrderId, RestingOrder

_BID, _ASK = 0, 1
_SIDE_NAMES = ("B", "S")
_MARKET = -(MAX_INT + 1)  # limit key of a market order: every resting key is above it
_NO_CANCELS: tuple[OrderId, ...] = ()


class OrderBook:
    """One instrument's book. ``OrderBook()`` has integer ticks and no price band."""

    __slots__ = (
        "_keys",
        "_levels",
        "_lower",
        "_max_order",
        "_min_lot",
        "_orders",
        "_tick",
        "_upper",
        "last_stp_cancels",
        "rules",
    )

    def __init__(
        self,
        *,
        tick: int = 1,
        reference_price: int | None = None,
        band_pct: int = DEFAULT_BAND_PCT,
        min_lot: int = 1,
        max_order: int = MAX_INT,
        rules: BookRules | None = None,
    ) -> None:
        if rules is None:
            rules = BookRules(tick, reference_price, band_pct, min_lot, max_order)
        self._orders: dict[OrderId, list[Any]] = {}
        self._keys: tuple[list[int], list[int]] = ([], [])
        self._levels: tuple[dict[int, list[Any]], dict[int, list[Any]]] = ({}, {})
        self.last_stp_cancels: Sequence[OrderId] = _NO_CANCELS
        self._apply_rules(rules)

    def _apply_rules(self, rules: BookRules) -> None:
        self.rules = rules
        self._tick = rules.tick
        self._min_lot = rules.min_lot
        self._max_order = rules.max_order
        self._lower, self._upper = rules.price_bounds()

    def set_reference_price(self, reference_price: int | None) -> None:
        """Start a new day's band around ``reference_price``; resting orders are kept."""
        r = self.rules
        self._apply_rules(BookRules(r.tick, reference_price, r.band_pct, r.min_lot, r.max_order))

    # -- commands ---------------------------------------------------------------------------

    def submit(
        self, side: str, price: int, qty: int, order_id: OrderId, kind: str, account: Account
    ) -> list[Fill]:
        """Enter an order; return its fills ``(taker_id, maker_id, price, qty)`` in order."""
        try:  # free in CPython 3.11+ unless raised
            if (
                type(qty) is not int
                or qty < self._min_lot
                or qty > self._max_order
                or order_id in self._orders
            ):
                self._reject(side, price, qty, order_id, kind)
        except TypeError:
            raise InvalidOrder(f"order id must be hashable, got {order_id!r}") from None
        if kind == "L":
            if (
                type(price) is not int
                or price < self._lower
                or price > self._upper
                or price % self._tick
            ):
                self._reject(side, price, qty, order_id, kind)
            limit = price
        elif kind == "M":
            limit = _MARKET
        else:
            self._reject(side, price, qty, order_id, kind)
        if side == "B":
            own = _BID
            if limit != _MARKET:
                limit = -price  # asks are keyed by -price: cross when ask key >= -price
        elif side == "S":
            own = _ASK
        else:
            self._reject(side, price, qty, order_id, kind)
        self.last_stp_cancels = _NO_CANCELS
        fills: list[Fill] = []
        opposite = self._keys[1 - own]
        if opposite and opposite[-1] >= limit:
            qty = self._take(1 - own, limit, qty, order_id, account, fills)
            if not qty or kind == "M":
                return fills
        elif kind == "M":
            return fills
        # `_rest`, inline: most orders of a busy book rest, and this is the matching loop's path
        key = price if own == _BID else -price
        levels = self._levels[own]
        level = levels.get(key)
        if level is None:
            level = levels[key] = [0, deque(), key, own]
            insort(self._keys[own], key)
        order = [order_id, qty, price, account, level]
        level[0] += 1
        level[1].append(order)
        self._orders[order_id] = order
        return fills

    def _rest(self, own: int, price: int, qty: int, order_id: OrderId, account: Account) -> None:
        """Put an order at the back of its price level (no matching, no checks)."""
        key = price if own == _BID else -price
        levels = self._levels[own]
        level = levels.get(key)
        if level is None:
            level = levels[key] = [0, deque(), key, own]
            insort(self._keys[own], key)
        order = [order_id, qty, price, account, level]
        level[0] += 1
        level[1].append(order)
        self._orders[order_id] = order

    def _take(
        self, side: int, limit: int, qty: int, taker: OrderId, account: Account, fills: list[Fill]
    ) -> int:
        """Match ``qty`` against ``side`` down to ``limit`` (a key); return what is left."""
        keys = self._keys[side]
        levels = self._levels[side]
        orders = self._orders
        while qty and keys:
            key = keys[-1]
            if key < limit:
                break
            level = levels[key]
            queue = level[1]
            while qty:
                maker = queue[0]
                available = maker[1]
                if not available:  # cancelled earlier, skipped lazily
                    queue.popleft()
                    continue
                if maker[3] == account:
                    self._stp_cancel(maker)
                    queue.popleft()
                elif available > qty:
                    maker[1] = available - qty
                    fills.append((taker, maker[0], maker[2], qty))
                    return 0
                else:
                    fills.append((taker, maker[0], maker[2], available))
                    qty -= available
                    queue.popleft()
                    del orders[maker[0]]
                    level[0] -= 1
                if not level[0]:
                    keys.pop()
                    del levels[key]
                    queue.clear()  # dead orders left in it refer back to the level
                    break
        return qty

    def _stp_cancel(self, maker: list[Any]) -> None:
        del self._orders[maker[0]]
        maker[1] = 0
        maker[4][0] -= 1
        cancels = self.last_stp_cancels
        if cancels is _NO_CANCELS:
            self.last_stp_cancels = cancels = []
        cancels.append(maker[0])  # type: ignore[attr-defined]

    # -- applying decided outcomes (a recorded batch: no matching is re-run) ---------------

    def apply_fill(self, maker: OrderId, price: int, qty: int) -> bool:
        """Take a decided fill of ``qty`` at ``price`` off the resting order ``maker``: it
        keeps its place with the rest, or leaves the book when filled. False (and nothing
        changes) unless ``maker`` rests at ``price`` with at least ``qty``."""
        order = self._orders.get(maker)
        if order is None or order[2] != price or not 0 < qty <= order[1]:
            return False
        if qty < order[1]:
            order[1] -= qty
            return True
        return self.cancel(maker)

    def apply_rest(self, side: str, price: int, qty: int, order_id: OrderId,
                   account: Account) -> bool:
        """Rest a decided remainder at the back of its level without matching. False (and
        nothing changes) when the id already rests or the order would cross the book: a
        decided remainder never does."""
        if order_id in self._orders or qty <= 0:
            return False
        if side == "B":
            own, key = _BID, -price  # asks are keyed by -price
        else:
            own, key = _ASK, price
        opposite = self._keys[1 - own]
        if opposite and opposite[-1] >= key:
            return False
        self._rest(own, price, qty, order_id, account)
        return True

    def reduce(self, order_id: OrderId, remaining: int) -> bool:
        """Lower a resting order's remaining quantity in place: it keeps its place in the
        queue. True when an order rested under ``order_id`` and ``remaining`` is less."""
        order = self._orders.get(order_id)
        if order is None or not 0 < remaining < order[1]:
            return False
        order[1] = remaining
        return True

    def cancel(self, order_id: OrderId) -> bool:
        """Remove a resting order; True only when one was resting under ``order_id``."""
        try:
            order = self._orders.pop(order_id, None)
        except TypeError:  # unhashable: cannot be the id of a resting order
            return False
        if order is None:
            return False
        order[1] = 0
        level = order[4]
        level[0] -= 1
        if not level[0]:
            side = level[3]
            keys = self._keys[side]
            del keys[bisect_left(keys, level[2])]
            del self._levels[side][level[2]]
            level[1].clear()  # its dead orders refer back to it: freed now, not by the collector
        elif len(level[1]) > 2 * level[0] + 32:  # mostly dead: compact to bound memory
            level[1] = deque([o for o in level[1] if o[1]])
        return True

    def _reject(
        self, side: object, price: object, qty: object, order_id: OrderId, kind: object
    ) -> NoReturn:
        check_order(self.rules, side, price, qty, kind)
        if order_id in self._orders:
            raise DuplicateOrderId(f"order id {order_id!r} is already resting in the book")
        raise InvalidOrder("order rejected")  # unreachable while fast path and rules agree

    # -- queries ----------------------------------------------------------------------------

    def best_bid(self) -> int | None:
        keys = self._keys[_BID]
        return keys[-1] if keys else None

    def best_ask(self) -> int | None:
        keys = self._keys[_ASK]
        return -keys[-1] if keys else None

    def order(self, order_id: OrderId) -> RestingOrder | None:
        """The resting order with this id, or None."""
        order = self._orders.get(order_id)
        if order is None:
            return None
        return RestingOrder(order[0], _SIDE_NAMES[order[4][3]], order[2], order[1], order[3])

    def __len__(self) -> int:
        """Number of resting orders."""
        return len(self._orders)

    def depth(self, levels: int = 10) -> Depth:
        """Up to ``levels`` best price levels per side: (price, total qty, order count)."""
        return Depth(self._side_depth(_BID, levels), self._side_depth(_ASK, levels))

    def _side_depth(self, side: int, count: int) -> list[DepthLevel]:
        keys = self._keys[side]
        out = []
        for key in reversed(keys[-count:] if count > 0 else []):
            level = self._levels[side][key]
            qty = sum(o[1] for o in level[1])
            out.append(DepthLevel(abs(key), qty, level[0]))
        return out

    def copy(self) -> OrderBook:
        """An independent book with the same rules and resting orders, in the same priority:
        a draft to decide on without changing this one. Cancelled orders still waiting in a
        queue are left out (matching skips them anyway)."""
        book = OrderBook.__new__(OrderBook)
        book._apply_rules(self.rules)
        book.last_stp_cancels = _NO_CANCELS
        orders: dict[OrderId, list[Any]] = {}
        levels: tuple[dict[int, list[Any]], dict[int, list[Any]]] = ({}, {})
        for side in (_BID, _ASK):
            copies = levels[side]
            for key, level in self._levels[side].items():
                new: list[Any] = [level[0], None, key, side]
                queue: deque[list[Any]] = deque()
                for o in level[1]:
                    if o[1]:
                        order = [o[0], o[1], o[2], o[3], new]
                        queue.append(order)
                        orders[o[0]] = order
                new[1] = queue
                copies[key] = new
        book._orders = orders
        book._keys = (list(self._keys[_BID]), list(self._keys[_ASK]))
        book._levels = levels
        return book

    def clear(self) -> None:
        """Take every order off the book at once. A level and its orders refer to each other
        (each order names its level), so a full book dropped as it is waits for the cyclic
        collector; a book used for one decision (a draft) is cleared instead and freed by
        reference counting right away."""
        for levels in self._levels:
            for level in levels.values():
                level[1].clear()
            levels.clear()
        for keys in self._keys:
            keys.clear()
        self._orders.clear()
        self.last_stp_cancels = _NO_CANCELS

    # -- snapshots (replay equality) --------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """Plain, deterministic, JSON-ready state: rules and resting orders, best price first,
        each level in time priority as ``[order_id, remaining, account]``."""
        return {
            "rules": self.rules.to_dict(),
            "bids": self._side_snapshot(_BID),
            "asks": self._side_snapshot(_ASK),
        }

    def _side_snapshot(self, side: int) -> list[list[Any]]:
        levels = self._levels[side]
        return [
            [abs(key), [[o[0], o[1], o[3]] for o in levels[key][1] if o[1]]]
            for key in reversed(self._keys[side])
        ]

    @classmethod
    def from_snapshot(cls, data: dict[str, Any]) -> OrderBook:
        """Rebuild a book from `snapshot` output; the result compares equal to the original."""
        book = cls(rules=BookRules.from_dict(data["rules"]))
        for side, name in ((_BID, "bids"), (_ASK, "asks")):
            for price, entries in reversed(data[name]):
                if not entries:
                    continue
                key = price if side == _BID else -price
                level: list[Any] = [0, deque(), key, side]
                book._levels[side][key] = level
                insort(book._keys[side], key)
                for order_id, remaining, account in entries:
                    order = [order_id, remaining, price, account, level]
                    level[0] += 1
                    level[1].append(order)
                    book._orders[order_id] = order
        return book

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, OrderBook):
            return NotImplemented
        return self.snapshot() == other.snapshot()

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value

    def __repr__(self) -> str:
        return (
            f"OrderBook(bid={self.best_bid()}, ask={self.best_ask()}, "
            f"orders={len(self._orders)}, rules={self.rules})"
        )

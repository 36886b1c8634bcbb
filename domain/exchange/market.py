"""A market: one instrument's order book with its resting orders, trades and verification queue.

Group commit: `match` takes a whole batch of requests (new orders and cancels, in arrival
order), runs them through the book one by one with the entry checks of `Desk`, settles each
fill delivery-versus-payment or queues it for an administrator, and records the batch as ONE
``BatchMatched`` event: the accepted requests in sequence (``ops``), every trade with its
settlement status, and the resting orders self-trade prevention cancelled. Refused requests
change nothing and are not recorded.

The market changes only through its events. The book is derived state: `match` decides on a
*draft* (a copy of the book and of the resting orders: entry checks depend on earlier fills of
the same batch, kept for the next batch while nothing else changes the market) and changes
nothing of the market; its decision is plain values, the event's
``ops``, ``trades`` and ``stp``. Applying the ``BatchMatched`` event, at command time as on
replay, makes exactly that change without matching again: each recorded fill comes off its
maker, each self-trade cancel off the book, each limit order's remainder rests; an outcome the
book cannot take as recorded is refused (`MatchingDiverged`). With a kept draft
(`KeptDrafts`, the speed-up ``kept_draft``), a batch large against its book makes the same
change at command time by taking the draft it was decided on, which holds exactly that
(`Market._adopt`; compared with the plain path in `tests/property/test_kept_draft.py`).
Whether the recorded fills are what the matching rules give is the auditor's check
(`registry.audit_matching`), which re-runs the core over an export. A command that fails
midway leaves the market as it was.

Self-trade prevention follows the core: the *resting* order of the same enterprise is cancelled
(and its reservation released: cash for a buy, units for a sell); the incoming order goes on.

Four eyes: the *initiators* of a trade are the users who entered its two orders (an
administrator entering an order for an enterprise is one) and the administrator who set the
market parameters in force (reference price, threshold). Approval must come from an
administrator who is none of them; rejection, which only releases reservations, may come from
any administrator.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NoReturn
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.errors import (
    FourEyesViolation,
    InvalidInput,
    InvalidState,
    MarketClosed,
    MarketHalted,
    NotFound,
    RegistryError,
)
from domain.exchange.desk import Desk
from domain.exchange.money import value
from domain.exchange.orders import (
    Amend,
    Cancel,
    Order,
    Outcome,
    Request,
    RestingOrder,
    went_in,
)
from domain.exchange.params import MarketParams
from domain.exchange.sessions import (
    TIFS,
    after_close,
    gtc_expired,
    in_session,
    rolled_reference,
    trading_date,
)
from domain.matching import OrderBook
from domain.matching.rules import check_order
from domain.records import Submit, pending_trades, recorded_fills, stored_trade, trade_totals
from domain.topics import aggregate_topic, event_topic, natural_id

SETTLED, PENDING = "settled", "pending"


class MatchingDiverged(RuntimeError):
    """A recorded batch does not fit the book it is applied to: the store is not trusted."""


def pool_ref(instrument: str) -> str:
    """The reservation reference under which the exchange holds a market's units."""
    return f"exchange:{instrument}"


class Market(Aggregate):
    TOPIC = aggregate_topic("Market")

    class Created(Aggregate.Created):
        TOPIC = event_topic("Market", "Created")

    @staticmethod
    def create_id(instrument: str, **_: Any) -> UUID:
        return natural_id(f"/markets/{instrument}")

    @classmethod
    def open(cls, *, instrument: str, kind: str, zone: str, params: MarketParams,
             administrator: str, at: str) -> Market:
        if not administrator.strip():
            raise InvalidInput("opening a market needs the administrator's id")
        return cls(instrument=instrument, kind=kind, zone=zone, params=params.to_dict(),
                   administrator=administrator, at=at)

    @event("Opened", topic=event_topic("Market", "Opened"))
    def __init__(self, instrument: str, kind: str, zone: str, params: dict[str, Any],
                 administrator: str, at: str) -> None:
        self.instrument, self.kind, self.zone = instrument, kind, zone
        self.params = params
        self.params_set_by = administrator
        self.book = OrderBook(rules=MarketParams.from_dict(params).book_rules())
        self.orders: dict[Any, RestingOrder] = {}  # by id (the book's `OrderId`)
        self.seen: set[str] = set()  # every order id ever accepted: ids are never reused
        self.batches = 0
        self.trade_count = 0
        self.pending: dict[str, dict[str, Any]] = {}
        #: None while trading; else {"reason", "by", "at"} of the halt
        self.halted: dict[str, str] | None = None
        #: trade statistics of the latest trading day that had trades (the daily roll's
        #: input): {"date", "close", "value", "qty"}; and when the reference last rolled
        self.day: dict[str, Any] | None = None
        self.rolled_on: str | None = None

    def market_params(self) -> MarketParams:
        return MarketParams.from_dict(self.params)

    # -- parameters ----------------------------------------------------------------------------

    def set_parameters(self, *, reference_price: int | None = None,
                       verify_above: int | str | None = "keep", administrator: str,
                       at: str) -> None:
        """A new day's reference price (band) and/or verification threshold. Tick and lots
        are fixed for the life of the market."""
        if not administrator.strip():
            raise InvalidInput("parameters need the administrator's id")
        data = dict(self.params)
        if reference_price is not None:
            data["reference_price"] = reference_price
        if verify_above != "keep":
            data["verify_above"] = verify_above
        params = MarketParams.from_dict(data)  # validates
        self._parameters_set(params=params.to_dict(), administrator=administrator, at=at)

    @event("ParametersSet", topic=event_topic("Market", "ParametersSet"))
    def _parameters_set(self, params: dict[str, Any], administrator: str, at: str) -> None:
        self.params = params
        self.params_set_by = administrator
        self.book.set_reference_price(params["reference_price"])

    # -- trading days ------------------------------------------------------------------------

    def _count_day(self, trades: list[list[Any]], at: str) -> None:
        """Fold a batch's trades into the statistics of its trading day (the roll's input)."""
        date = trading_date(at)
        day = self.day
        if day is None or day["date"] != date:
            day = self.day = {"date": date, "close": 0, "value": 0, "qty": 0}
        close, amount, qty = trade_totals(trades)
        day["close"] = close
        day["value"] += amount
        day["qty"] += qty

    def expiring_orders(self, *, at: str) -> list[str]:
        """The resting orders the close at ``at`` expires: day orders entered on or before
        that day, and good-till-cancelled orders past ``gtc_days``. Refused before the day's
        last session has ended."""
        params = self.market_params()
        if not after_close(at, params.sessions):
            raise InvalidState(f"market {self.instrument} has not closed yet at {at}")
        today = trading_date(at)
        return [oid for oid, o in self.orders.items()
                if (o.tif == "DAY" and o.entered_on <= today)
                or (o.tif == "GTC" and gtc_expired(o.entered_on, today, params.gtc_days))]

    def outside_band(self) -> list[str]:
        """Resting orders whose price the current band no longer admits."""
        lower, upper = self.market_params().book_rules().price_bounds()
        return [oid for oid, o in self.orders.items() if not lower <= o.price <= upper]

    def roll_reference(self, *, by: str, at: str) -> int | None:
        """The daily roll (`domain.exchange.sessions`): set today's reference price from the
        latest earlier trading day that had trades; returns it (None: no such day, the
        reference stays). Once per trading day."""
        if not by.startswith("system:") and not by.strip():
            raise InvalidInput("a roll names the job or administrator running it")
        today = trading_date(at)
        if self.rolled_on == today:
            raise InvalidState(f"market {self.instrument} already rolled on {today}")
        params = self.market_params()
        day = self.day
        if day is None or day["date"] >= today:
            new = None
            data = params.to_dict()
        else:
            new = rolled_reference(day, params.reference_rule, params.tick)
            data = dict(params.to_dict(), reference_price=new)
        MarketParams.from_dict(data)  # validates
        self._reference_rolled(params=data, rule=params.reference_rule, day=day, by=by, at=at,
                               on=today)
        return new

    @event("ReferenceRolled", topic=event_topic("Market", "ReferenceRolled"))
    def _reference_rolled(self, params: dict[str, Any], rule: str, day: dict[str, Any] | None,
                          by: str, at: str, on: str) -> None:
        self.rolled_on = on
        if params["reference_price"] != self.params["reference_price"]:
            self.params = params
            self.params_set_by = by
            self.book.set_reference_price(params["reference_price"])

    # -- halts and lifecycle cancels ----------------------------------------------------------

    def halt(self, *, reason: str, administrator: str, at: str) -> None:
        """Stop taking new orders. Resting orders and trades waiting for verification are
        held as they are (cancels still run, releasing what they hold)."""
        if not reason.strip() or not administrator.strip():
            raise InvalidInput("a halt needs the administrator's id and a reason")
        if self.halted is not None:
            raise InvalidState(f"market {self.instrument} is already halted")
        self._halted(reason=reason, administrator=administrator, at=at)

    @event("Halted", topic=event_topic("Market", "Halted"))
    def _halted(self, reason: str, administrator: str, at: str) -> None:
        self.halted = {"reason": reason, "by": administrator, "at": at}

    def resume(self, *, reason: str, administrator: str, at: str) -> None:
        if not reason.strip() or not administrator.strip():
            raise InvalidInput("resuming needs the administrator's id and a reason")
        if self.halted is None:
            raise InvalidState(f"market {self.instrument} is not halted")
        self._resumed(reason=reason, administrator=administrator, at=at)

    @event("Resumed", topic=event_topic("Market", "Resumed"))
    def _resumed(self, reason: str, administrator: str, at: str) -> None:
        self.halted = None

    def cancel_orders(self, order_ids: Sequence[str], *, reason: str, by: str,
                      at: str) -> list[RestingOrder]:
        """Take resting orders off the book because a lifecycle change (revocation, expiry,
        freeze, credit restriction) took what they stand on; returns their records as they
        stood, so the caller releases what they held."""
        if not reason.strip() or not by.strip():
            raise InvalidInput("cancelling orders needs who and why")
        ids = list(dict.fromkeys(order_ids))
        missing = [i for i in ids if i not in self.orders]
        if missing:
            raise NotFound(f"no resting orders {missing!r} in {self.instrument}")
        if not ids:
            return []
        records = [self.orders[i] for i in ids]
        self._orders_cancelled(order_ids=ids, reason=reason, by=by, at=at)
        return records

    @event("OrdersCancelled", topic=event_topic("Market", "OrdersCancelled"))
    def _orders_cancelled(self, order_ids: list[str], reason: str, by: str, at: str) -> None:
        for order_id in order_ids:  # the same step a cancel request takes, on replay too
            _apply_op(self, ["C", order_id, by], "")

    # -- the batch -----------------------------------------------------------------------------

    def match(self, requests: Sequence[Request], *, desk: Desk, at: str,
              kept: KeptDrafts | None = None) -> list[Outcome]:
        """Run a batch; return one `Outcome` per request. Postings for the other aggregates
        are left on ``desk``. With ``kept``, the batch decides on the draft this market's
        previous batch left there, if it still holds the market's state, instead of a new
        copy of the book, and leaves its own there for the next batch (`KeptDrafts`)."""
        params = self.market_params()
        upper, lot, va = params.upper_price(), params.lot, params.verify_above
        lower = params.book_rules().price_bounds()[0]
        closed = self._closed(params, at)  # one time for the whole batch
        ops: list[list[Any]] = []
        trades: list[list[Any]] = []
        stp: list[list[Any]] = []
        outcomes: list[Outcome] = []
        initiators: dict[tuple[str, str], list[str]] = {}  # per batch: few distinct pairs
        draft = _Draft(self) if kept is None else kept.take(self)
        orders = draft.orders
        on = trading_date(at)
        for incoming in requests:
            request: Any = incoming
            try:
                if type(request) is Order and closed is None:  # most requests: `_take`'s path
                    reentry = False
                else:
                    taken = self._take(draft, request, desk, ops, params, closed)
                    if isinstance(taken, Outcome):
                        outcomes.append(taken)
                        continue
                    request, reentry = taken
                need = self._check_entry(draft, request, desk, lot, upper, reentry=reentry)
                op = ["S", *request]
                fills, makers, stopped, filled = _apply_op(draft, op, on)
            except RegistryError as exc:
                outcomes.append(Outcome(getattr(request, "order_id", ""), "rejected", [], 0,
                                        type(exc).__name__, str(exc), exc))
                continue
            # accepted: from here on nothing may refuse
            index = len(ops)
            ops.append(op)
            if need:  # a buy (sells need no cash)
                desk.hold_cash(request.account, need)  # checked above
            else:
                desk.reserve_units(request.account, request.qty)
            out = self._settle(request, index, fills, makers, desk, va, (lower, upper),
                               trades, initiators) if fills else []
            for info_id, info in stopped:
                stp.append([index, info_id])
                self._release(info, desk)
            remaining = request.qty - filled
            resting = remaining if remaining and request.order_id in orders else 0
            if remaining and not resting:  # market order: its remainder is dropped
                self._release_units_or_cash(desk, request.account, request.side, upper,
                                            remaining)
            status = "expired" if request.kind == "M" and not filled else (
                "amended" if reentry else "accepted")
            outcomes.append(went_in(request.order_id, status, out, resting, filled))
        self._record_batch(draft, kept, ops, trades, stp, at)
        return outcomes

    def _record_batch(self, draft: _Draft, kept: KeptDrafts | None, ops: list[list[Any]],
                      trades: list[list[Any]], stp: list[list[Any]], at: str) -> None:
        """The batch's event, if any request went in; then the draft is dropped, kept for
        the next batch, or (a kept draft's batch large against its book: at least one op per
        ``ADOPT_OPS_PER_ORDER`` resting orders) handed to the event to become the market's
        own book, the next batch copying it again."""
        adopt = kept is not None and len(ops) * ADOPT_OPS_PER_ORDER >= len(draft.orders)
        if ops:
            if adopt:  # the event takes the draft itself (`_batch_matched`)
                self.__dict__["_decided"] = draft
            try:
                self._batch_matched(batch=self.batches + 1, ops=ops, trades=trades, stp=stp,
                                    at=at)
            finally:  # never left for another event
                self.__dict__.pop("_decided", None)
        if kept is None:
            draft.book.clear()  # decided: the copy goes now, not at the next collection
        elif not (adopt and ops):
            kept.keep(self, draft)  # the market now holds what the draft does

    def _take(self, draft: _Draft, request: Any, desk: Desk, ops: list[list[Any]],
              params: MarketParams,
              closed: RegistryError | None) -> Outcome | tuple[Order, bool]:
        """A cancel or an amend in place is decided here (its `Outcome`); a new order, or an
        amend that re-enters, comes back as ``(order, re-entering)`` for the entry checks."""
        if type(request) is Cancel:
            return self._cancel(draft, request, desk, ops)
        if type(request) is Amend:
            amended = self._amend(draft, request, desk, ops, params, closed)
            return amended if isinstance(amended, Outcome) else (amended, True)
        if type(request) is not Order:
            raise InvalidInput(f"not an order, an amend or a cancel: {request!r}")
        if closed is not None:
            raise closed
        return request, False

    def _settle(self, request: Order, index: int, fills: list[Any],
                makers: list[RestingOrder], desk: Desk, va: int | None, band: tuple[int, int],
                trades: list[list[Any]],
                initiators: dict[tuple[str, str], list[str]]) -> list[list[Any]]:
        """Turn each fill into a trade: settle it delivery-versus-payment on the desk, or
        leave its reservations in place for the verification queue. Trades are numbered on
        from those already recorded in ``trades`` and in earlier batches."""
        account, entered_by = request.account, request.entered_by
        lower, upper = band
        buyer_is_taker = request.side == "B"
        # what the taking buyer reserved per tonne; a resting buyer reserved the fill price
        limit = (request.price if request.kind == "L" else upper) if buyer_is_taker else 0
        number = self.trade_count + len(trades)
        prefix = f"{self.instrument}:"
        out: list[list[Any]] = []
        for (taker, maker, price, qty), maker_info in zip(fills, makers, strict=True):
            if not lower <= price <= upper:  # every resting order is kept inside the band
                raise MatchingDiverged(f"{self.instrument}: a fill at {price} lies outside "
                                       f"the band [{lower}, {upper}]")
            number += 1
            trade_id = f"{prefix}{number}"
            if buyer_is_taker:
                buyer, seller = account, maker_info.account
                desk.release_cash(buyer, value(limit - price, qty))  # price improvement
            else:
                buyer, seller = maker_info.account, account
            amount = value(price, qty)
            reasons = desk.trade(seller, buyer, qty, amount, trade_id,
                                 above_threshold=va is not None and amount > va)
            pair = (entered_by, maker_info.entered_by)
            who = initiators.get(pair)
            if who is None:
                who = initiators[pair] = sorted({*pair, self.params_set_by})
            trades.append(stored_trade(trade_id, index, taker, maker, price, qty, buyer,
                                       seller, amount, reasons, list(who)))
            out.append([trade_id, price, qty, PENDING if reasons else SETTLED])
        return out

    def _closed(self, params: MarketParams, at: str) -> RegistryError | None:
        """Why the market takes no new orders or amends at ``at`` (None: it does)."""
        if self.halted is not None:
            return MarketHalted(f"market {self.instrument} is halted: {self.halted['reason']}")
        if not in_session(at, params.sessions, params.holidays):
            return MarketClosed(f"market {self.instrument} is outside its trading sessions "
                                f"{params.sessions} (CST, working days) at {at}")
        return None

    def _check_entry(self, draft: _Draft, o: Order, desk: Desk, lot: int, upper: int, *,
                     reentry: bool = False) -> int:
        """Every check that does not need the book; returns the cash to reserve (buys)."""
        order_id, account, side, kind, price, qty, _, tif = o
        if type(order_id) is not str or not order_id or (
                (order_id in self.seen or order_id in draft.seen) and not reentry):
            raise InvalidInput(f"order id {order_id!r} is empty or already used")
        if tif not in TIFS or (tif == "GTC" and kind != "L"):
            raise InvalidInput(f"time in force is DAY or GTC (limit orders), got {tif!r}")
        if side not in ("B", "S") or kind not in ("L", "M"):
            raise InvalidInput(f"side must be B or S and kind L or M, got {side!r} {kind!r}")
        if type(qty) is not int or qty <= 0 or qty % lot:
            raise InvalidInput(f"quantity {qty!r} is not a positive whole number of lots "
                               f"of {lot} kg")
        if kind == "L" and (type(price) is not int or price <= 0):
            raise InvalidInput(f"limit price must be a positive integer, got {price!r}")
        desk.check_entry(account)
        if side == "S":
            if qty > desk.units_available(account):
                desk.reserve_units(account, qty)  # raises InsufficientHoldings
            return 0
        need = value(price if kind == "L" and price <= upper else upper, qty)
        if need > desk.cash_available(account):
            desk.reserve_cash(account, need)  # raises InsufficientFunds
        return need

    def _cancel(self, draft: _Draft, c: Cancel, desk: Desk, ops: list[list[Any]]) -> Outcome:
        info = draft.orders.get(c.order_id)
        if info is None or info.account != c.account:
            raise NotFound(f"no resting order {c.order_id!r} of {c.account}")
        op = ["C", c.order_id, c.entered_by]
        _apply_op(draft, op, "")
        ops.append(op)
        self._release(info, desk)
        return Outcome(c.order_id, "cancelled", [], 0, filled=info.filled)

    def _amend(self, draft: _Draft, a: Amend, desk: Desk, ops: list[list[Any]],
               params: MarketParams, closed: RegistryError | None) -> Outcome | Order:
        """Less quantity at the same price: the order keeps its place (an ``A`` op) and the
        difference is released. Otherwise the order is cancelled here and the `Order`
        returned re-enters it, at the back, under the same id."""
        info = draft.orders.get(a.order_id)
        if info is None or info.account != a.account:
            raise NotFound(f"no resting order {a.order_id!r} of {a.account}")
        if type(a.qty) is not int or a.qty <= 0 or a.qty % params.lot:
            raise InvalidInput(f"quantity {a.qty!r} is not a positive whole number of lots")
        price = info.price if a.price is None else a.price
        if closed is not None:
            raise closed
        if price == info.price and a.qty <= info.remaining:
            if a.qty == info.remaining:
                raise InvalidInput(f"amending {a.order_id!r} changes nothing")
            op = ["A", a.order_id, a.qty, a.entered_by]
            less = info.remaining - a.qty
            filled = info.filled
            _apply_op(draft, op, "")
            ops.append(op)
            self._release_units_or_cash(desk, info.account, info.side, info.price, less)
            return Outcome(a.order_id, "amended", [], a.qty, filled=filled)
        order = Order(a.order_id, a.account, info.side, "L", price, a.qty, a.entered_by,
                      info.tif)
        # every check runs before the cancel, so a refused amend changes nothing: the book's
        # rules, then the entry checks on the tallies as the cancel will leave them
        check_order(draft.book.rules, order.side, price, a.qty, "L")
        self._release(info, desk)
        try:
            self._check_entry(draft, order, desk, params.lot, params.upper_price(),
                              reentry=True)
        except RegistryError:
            self._unrelease(info, desk)
            raise
        self._unrelease(info, desk)  # `match` releases it once more with the cancel op
        op = ["C", a.order_id, a.entered_by]
        _apply_op(draft, op, "")
        ops.append(op)
        self._release(info, desk)
        return order

    @staticmethod
    def _unrelease(info: RestingOrder, desk: Desk) -> None:
        """Undo `_release` on the desk's tallies (a refused amend)."""
        Market._release_units_or_cash(desk, info.account, info.side, info.price,
                                      -info.remaining)

    @staticmethod
    def _release(info: RestingOrder, desk: Desk) -> None:
        """Release what a resting order still holds."""
        if info.side == "B":
            desk.release_cash(info.account, value(info.price, info.remaining))
        else:
            desk.release_units(info.account, info.remaining)

    @staticmethod
    def _release_units_or_cash(desk: Desk, account: str, side: str, price: int,
                               qty: int) -> None:
        """Release what ``qty`` of an order holds: a buy's cash at ``price``, a sell's units."""
        if side == "B":
            desk.release_cash(account, value(price, qty))
        else:
            desk.release_units(account, qty)

    @event("BatchMatched", topic=event_topic("Market", "BatchMatched"))
    def _batch_matched(self, batch: int, ops: list[list[Any]], trades: list[list[Any]],
                       stp: list[list[Any]], at: str) -> None:
        decided: _Draft | None = self.__dict__.pop("_decided", None)
        if decided is None:  # replay, or a batch whose draft is kept for the next one
            self._apply_ops(ops, trades, stp, at)
        else:  # at command time: the draft the batch was decided on holds exactly that
            self._adopt(decided)
        self.batches = batch
        self.trade_count += len(trades)
        if not trades:
            return
        self._count_day(trades, at)
        for t in pending_trades(trades):
            self.pending[t.trade_id] = {
                "trade": t.trade_id, "taker": t.taker, "maker": t.maker, "price": t.price,
                "qty": t.qty, "buyer": t.buyer, "seller": t.seller, "value": t.value,
                "reasons": t.reasons, "initiators": t.initiators, "at": at,
            }

    def _apply_ops(self, ops: list[list[Any]], trades: list[list[Any]],
                   stp: list[list[Any]], at: str) -> None:
        """Apply a batch's decided outcome to the book and the resting orders, op by op: a
        cancel or an amend as recorded; an entered order takes its recorded fills off the
        makers, its self-trade cancels off the book, and rests its remainder (limit orders).
        Matching is not run again (the auditor's check, `registry.audit_matching`, re-runs
        it over an export); an outcome the book cannot take as recorded (a maker missing, at
        another price or with less left, a remainder that would cross) is refused."""
        fills = recorded_fills(trades)
        book, orders, seen = self.book, self.orders, self.seen
        apply_fill, apply_rest, cancel = book.apply_fill, book.apply_rest, book.cancel
        on = trading_date(at)
        # both lists are in op order: the op index of the next fill and of the next self-trade
        # cancel (-1: none left), so an op that met neither skips both loops at one compare
        next_fill = next_stp = 0
        nf, ns = len(fills), len(stp)
        fill_at = fills[0][0] if nf else -1
        stp_at = stp[0][0] if ns else -1
        for index, op in enumerate(ops):
            if op[0] != "S":
                _apply_op(self, op, on)
                continue
            if len(op) == _SUBMIT:  # (not a starred target: it builds a list per op)
                _, order_id, account, side, kind, price, qty, entered_by, tif = op
            else:  # recorded before time in force existed: a day order
                _, order_id, account, side, kind, price, qty, entered_by = op
                tif = "DAY"
            filled = 0
            while fill_at == index:
                _, taker, maker, at_price, q = fills[next_fill]
                info = orders.get(maker)
                if taker != order_id or info is None or info.side == side \
                        or not apply_fill(maker, at_price, q):
                    self._diverged(index)
                if q < info.remaining:
                    orders[maker] = info.less(q)
                else:
                    del orders[maker]
                filled += q
                next_fill += 1
                fill_at = fills[next_fill][0] if next_fill < nf else -1
            while stp_at == index:
                stopped = stp[next_stp][1]
                info = orders.pop(stopped, None)
                if info is None or info.account != account or not cancel(stopped):
                    self._diverged(index)
                next_stp += 1
                stp_at = stp[next_stp][0] if next_stp < ns else -1
            seen.add(order_id)
            if filled > qty:
                self._diverged(index)
            if kind == "L" and filled < qty:  # the book rests every limit order's remainder
                if not apply_rest(side, price, qty - filled, order_id, account):
                    self._diverged(index)
                orders[order_id] = _new(RestingOrder, (
                    account, side, price, qty - filled, entered_by, tif,
                    on, qty))
        if next_fill != nf or next_stp != ns:
            self._diverged(len(ops))

    def _adopt(self, draft: _Draft) -> None:
        """Take the book and resting orders of the draft this batch was decided on: what
        `_apply_ops` makes of the batch's ops, trades and self-trade cancels, since the draft
        was the market's state and changed only by those (`tests/property/test_kept_draft.py`
        compares the two). The market's former book is cleared (freed at once, not by the
        collector)."""
        former, self.book, self.orders = self.book, draft.book, draft.orders
        former.clear()
        self.seen |= draft.seen

    def _diverged(self, index: int) -> NoReturn:
        raise MatchingDiverged(f"{self.instrument}: batch {self.batches + 1} op {index}: the "
                               "book cannot take the recorded outcome")

    # -- verification queue --------------------------------------------------------------------

    def pending_trade(self, trade_id: str) -> dict[str, Any]:
        trade = self.pending.get(trade_id)
        if trade is None:
            raise NotFound(f"no trade {trade_id!r} waits for verification")
        return trade

    def check_approver(self, *, trade_id: str, administrator: str) -> dict[str, Any]:
        """The pending trade, if ``administrator`` may approve it (four eyes)."""
        trade = self.pending_trade(trade_id)
        if not administrator.strip():
            raise InvalidInput("approval needs the administrator's id")
        if administrator in trade["initiators"]:
            raise FourEyesViolation(
                f"{administrator} initiated trade {trade_id} and may not approve it"
            )
        return trade

    def approve(self, *, trade_id: str, administrator: str, at: str) -> dict[str, Any]:
        trade = self.check_approver(trade_id=trade_id, administrator=administrator)
        self._trade_approved(trade_id=trade_id, administrator=administrator, at=at)
        return trade

    @event("TradeApproved", topic=event_topic("Market", "TradeApproved"))
    def _trade_approved(self, trade_id: str, administrator: str, at: str) -> None:
        del self.pending[trade_id]

    def reject(self, *, trade_id: str, administrator: str, reason: str,
               at: str) -> dict[str, Any]:
        trade = self.pending_trade(trade_id)
        if not administrator.strip() or not reason.strip():
            raise InvalidInput("rejection needs the administrator's id and a reason")
        self._trade_rejected(trade_id=trade_id, administrator=administrator, reason=reason,
                             at=at)
        return trade

    @event("TradeRejected", topic=event_topic("Market", "TradeRejected"))
    def _trade_rejected(self, trade_id: str, administrator: str, reason: str, at: str) -> None:
        del self.pending[trade_id]


_new = tuple.__new__  # a `RestingOrder` from its fields in order (the book checked them)
_SUBMIT = len(Submit._fields)  # an entered order's op, with its time in force

#: with a kept draft (`KeptDrafts`), a batch of at least one op per this many resting orders
#: hands its draft to its event instead of having the event apply its ops to the market: the
#: next batch then copies the book, which for such a batch costs less than the ops' second
#: application (the order gateway's small batches on a large book keep the draft instead)
ADOPT_OPS_PER_ORDER = 2


class _Draft:
    """What a batch decides on: a copy of the market's book, its resting orders (immutable
    records: a plain copy of the dict is independent) and the order ids the batch accepted.
    Deciding changes only the draft; the batch's event then applies the decided requests to
    the market itself, which then holds what the draft does (so the next batch may decide on
    it again, `Market.match`'s ``keep_draft``). ``version`` is the market's version whose
    state the draft holds."""

    __slots__ = ("book", "orders", "seen")

    def __init__(self, market: Market) -> None:
        self.book = market.book.copy()
        self.orders = dict(market.orders)
        self.seen: set[str] = set()


class KeptDrafts:
    """The draft each market's last batch decided on, kept for its next batch (`Market.match`'s
    ``kept``; the exchange's writer holds one, `registry.exchange_writer`). Once a batch's
    event is applied, the market's book and resting orders hold what the batch's draft does,
    so the next batch can decide on that draft instead of copying the whole book again. A
    draft is handed back only to the same market object at the version it was kept at: any
    other event applied to the market since (another writer's, an approval, a halt) moves its
    version, a market reloaded from the store is another object, and a batch that raises
    keeps nothing (it took the draft out first)."""

    __slots__ = ("_kept",)

    def __init__(self) -> None:
        self._kept: dict[UUID, tuple[Market, int, _Draft]] = {}

    def take(self, market: Market) -> _Draft:
        """The draft kept for ``market`` if it still holds the market's state, else a new
        one; either way none is kept for it any more."""
        found = self._kept.pop(market.id, None)
        if found is not None:
            holder, version, draft = found
            if holder is market and version == market.version:
                draft.seen.clear()
                return draft
            draft.book.clear()  # stale: freed now, not at the next collection
        return _Draft(market)

    def keep(self, market: Market, draft: _Draft) -> None:
        """Keep ``draft`` for ``market``'s next batch: the market holds what it does."""
        self._kept[market.id] = (market, market.version, draft)

    def clear(self) -> None:
        for _, _, draft in self._kept.values():
            draft.book.clear()
        self._kept.clear()


def _apply_op(state: Market | _Draft, op: list[Any], on: str
              ) -> tuple[list[Any], list[RestingOrder], list[Any], int]:
    """Apply one op to a book and its resting-order records (a market's, or a draft's).
    Returns the fills, the makers' records as they were before the fill (account and user are
    what callers read), the STP-cancelled ``(id, record)`` and the quantity filled. ``on`` is
    the trading date of the batch (the date a resting order was entered on)."""
    orders = state.orders
    what = op[0]
    if what == "C":  # `domain.records.CancelOp`
        _, order_id, _ = op
        orders.pop(order_id)
        state.book.cancel(order_id)
        return [], [], [], 0
    if what == "A":  # `domain.records.AmendOp`: less quantity, same price, same place
        _, order_id, qty, _ = op
        state.book.reduce(order_id, qty)
        info = orders[order_id]
        orders[order_id] = info.less(info.remaining - qty)
        return [], [], [], 0
    # `domain.records.Submit`; orders recorded before time in force existed rest as day orders
    if len(op) == _SUBMIT:
        _, order_id, account, side, kind, price, qty, entered_by, tif = op
    else:
        _, order_id, account, side, kind, price, qty, entered_by = op
        tif = "DAY"
    book = state.book
    fills = book.submit(side, price, qty, order_id, kind, account)
    state.seen.add(order_id)
    makers = []
    filled = 0
    for _, maker, _, q in fills:
        info = orders[maker]
        makers.append(info)
        filled += q
        if q < info.remaining:
            orders[maker] = info.less(q)
        else:
            del orders[maker]
    stopped = [(i, orders.pop(i)) for i in book.last_stp_cancels] \
        if book.last_stp_cancels else []
    if kind == "L" and filled < qty:  # the book rests every limit order's remainder
        orders[order_id] = _new(RestingOrder, (account, side, price, qty - filled, entered_by,
                                               tif, on, qty))
    return fills, makers, stopped, filled

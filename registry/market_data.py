"""Market data read model: books, orders, trades, price history and a live feed, from the log.

The exchange's aggregates answer "what is the state now" one aggregate at a time, and rebuilding
a Market from its events re-runs every batch. The API needs other questions answered quickly:
one enterprise's orders and trades, recent trades, OHLC history, the position (and so the
ledger leaf) of the event that settled a trade. `MarketData` follows the event log like the
ledger follower does: `refresh` reads what was committed since it last looked and folds the
Market, Agreement and Auction events into plain records. It keeps its own copy of each Market
aggregate (applying each new event to it, so each batch is matched once more, not once per
read), which gives the book depth.

Everything here is derived and in memory: a restart rebuilds it from the log on first use.
The feed (trades and book changes) is a bounded ring of messages numbered from the start of the
log (so the numbers survive a restart); `notify` tells pollers that something was committed.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from eventsourcing.application import Application

from domain.exchange.market import Market
from domain.records import CancelOp, StpCancel, Submit, Trade, op_of
from domain.topics import PREFIX
from registry.log_reader import LogReader

MARKET = f"{PREFIX}:Market."
AGREEMENT = f"{PREFIX}:Agreement."
AUCTION = f"{PREFIX}:Auction."
FEED_LEVELS = 10
SIDES = {"B": "buy", "S": "sell"}
KINDS = {"L": "limit", "M": "market"}
WIDTHS = {"day": 10, "hour": 13}  # characters of an ISO 8601 time naming the period


@dataclass
class MarketView:
    """One market as the read model knows it."""

    market: Market
    opened_at: str
    trades: list[dict[str, Any]] = field(default_factory=list)
    last_price: int | None = None
    #: OHLC bars by width of the period key (10: day, 13: hour), by period
    bars: dict[int, dict[str, dict[str, Any]]] = field(
        default_factory=lambda: {w: {} for w in WIDTHS.values()})

    def add_to_bars(self, t: dict[str, Any]) -> None:
        for width, bars in self.bars.items():
            _add_to_bar(bars, t["at"][:width], t)

    def drop_from_bars(self, t: dict[str, Any]) -> None:
        """A rejected trade leaves the bars: rebuild its periods (rejections are rare)."""
        for width, bars in self.bars.items():
            key = t["at"][:width]
            del bars[key]
            for x in self.trades:
                if x["state"] != "rejected" and x["at"][:width] == key:
                    _add_to_bar(bars, key, x)


def _add_to_bar(bars: dict[str, dict[str, Any]], key: str, t: dict[str, Any]) -> None:
    bar = bars.get(key)
    if bar is None:
        bars[key] = {"period": key, "open": t["price"], "high": t["price"], "low": t["price"],
                     "close": t["price"], "quantity": t["quantity"], "value": t["value"],
                     "trades": 1}
        return
    bar.update(high=max(bar["high"], t["price"]), low=min(bar["low"], t["price"]),
               close=t["price"], quantity=bar["quantity"] + t["quantity"],
               value=bar["value"] + t["value"], trades=bar["trades"] + 1)


@dataclass
class Message:
    """One feed message: ``seq`` numbers the messages from the start of the log, ``event`` is
    the SSE event name (``trade``, ``book``), ``data`` a JSON object naming no account."""

    seq: int
    event: str
    data: dict[str, Any]


class MarketData:
    def __init__(self, app: Application[Any], *, feed_size: int = 10_000,
                 page: int = 1000) -> None:
        self.app = app
        self.log = LogReader(app, page=page)
        self.lock = threading.RLock()
        self.closed = False
        self.notes = 0  # counts `notify` calls: pollers refresh when it moved
        self.markets: dict[str, MarketView] = {}
        self.orders: dict[tuple[str, str], dict[str, Any]] = {}
        self.trades: dict[str, dict[str, Any]] = {}
        self.by_account: dict[str, list[str]] = {}  # enterprise -> trade ids, oldest first
        self.orders_of: dict[str, list[tuple[str, str]]] = {}  # enterprise -> order keys
        self.agreements: dict[str, dict[str, Any]] = {}  # reference -> parties, positions
        self.auctions: dict[str, dict[str, Any]] = {}  # id -> instrument, positions
        self._ids: dict[Any, dict[str, Any]] = {}  # agreement / auction aggregate id -> record
        self._market_ids: dict[Any, MarketView] = {}
        self.feed: deque[Message] = deque(maxlen=feed_size)
        self.seq = 0
        self._handlers: dict[str, Callable[[int, Any], None]] = {
            "Opened": self._opened, "ParametersSet": self._apply_only,
            "BatchMatched": self._batch, "TradeApproved": self._approved,
            "TradeRejected": self._rejected, "OrdersCancelled": self._cancelled,
        }

    # -- following the log ---------------------------------------------------------------------

    def refresh(self) -> int:
        """Fold every event committed since the last refresh; returns how many were read."""
        with self.lock:
            read = 0
            decode = self.log.decode
            for batch in self.log.pages():
                for n in batch:
                    if n.topic.startswith((MARKET, AGREEMENT, AUCTION)):
                        self._fold(n.id, n.topic, decode(n))
                read += len(batch)
            return read

    @property
    def position(self) -> int:
        """The id of the last notification folded."""
        return self.log.position

    def _fold(self, position: int, topic: str, event: Any) -> None:
        name = topic.rsplit(".", 2)[-2]
        if topic.startswith(MARKET):
            self._handlers.get(name, self._apply_only)(position, event)
        elif topic.startswith(AGREEMENT):
            self._agreement(position, name, event)
        else:
            self._auction(position, name, event)

    def _view(self, event: Any) -> MarketView | None:
        return self._market_ids.get(event.originator_id)

    def _apply_only(self, position: int, event: Any) -> None:
        view = self._view(event)
        if view is not None:
            event.mutate(view.market)

    def _opened(self, position: int, event: Any) -> None:
        market: Market = event.mutate(None)
        view = MarketView(market=market, opened_at=event.at)
        self.markets[market.instrument] = view
        self._market_ids[market.id] = view

    def _batch(self, position: int, event: Any) -> None:
        view = self._view(event)
        if view is None:
            return
        code = view.market.instrument
        touched: list[tuple[str, str]] = []
        for index, stored in enumerate(event.ops):
            op = op_of(stored)
            if type(op) is not Submit:  # cancelled, or amended in place: only what rests
                touched.append((code, op.order_id))
                if type(op) is CancelOp:
                    self.orders[(code, op.order_id)]["status"] = "cancelled"
                continue
            key = (code, op.order_id)
            self.orders[key] = {
                "order_id": op.order_id, "instrument": code, "account": op.account,
                "side": SIDES[op.side], "kind": KINDS[op.kind],
                "price": op.price if op.kind == "L" else None,
                "quantity": op.qty, "filled": 0, "resting": 0, "status": "open",
                "entered_by": op.entered_by, "at": event.at, "position": position,
                "batch": index,
            }
            self.orders_of.setdefault(op.account, []).append(key)
            touched.append(key)
        for stopped in event.stp:
            key = (code, StpCancel.of(stopped).order_id)
            touched.append(key)
            self.orders[key]["status"] = "cancelled"
        for stored in event.trades:
            t = Trade.of(stored)
            for order_id in (t.taker, t.maker):
                self.orders[(code, order_id)]["filled"] += t.qty
                touched.append((code, order_id))
            record = {
                "trade": t.trade_id, "instrument": code, "price": t.price, "quantity": t.qty,
                "value": t.value, "buyer": t.buyer, "seller": t.seller, "taker": t.taker,
                "maker": t.maker, "state": "pending" if t.reasons else "settled",
                "reasons": list(t.reasons), "at": event.at, "position": position,
                "settled_at": None if t.reasons else event.at,
                "settled_position": None if t.reasons else position,
            }
            self.trades[t.trade_id] = record
            view.trades.append(record)
            view.add_to_bars(record)
            view.last_price = t.price
            for who in {t.buyer, t.seller}:
                self.by_account.setdefault(who, []).append(t.trade_id)
            self._publish("trade", _public_trade(record))
        event.mutate(view.market)
        for key in touched:
            self._settle_order(view.market, key)
        if event.ops:
            # the position of this batch, not of the refresh: the feed is the same however
            # the log was read (page by page or batch by batch)
            self._publish("book", {**self.depth(code, FEED_LEVELS), "position": position})

    def _settle_order(self, market: Market, key: tuple[str, str]) -> None:
        record = self.orders[key]
        resting = market.orders.get(key[1])
        record["resting"] = resting.remaining if resting and resting.account == record[
            "account"] else 0
        if record["status"] == "cancelled":
            return
        if record["resting"]:
            record["status"] = "open"
        elif record["filled"] == record["quantity"]:
            record["status"] = "filled"
        else:
            record["status"] = "expired"  # a market order's unfilled remainder is dropped

    def _cancelled(self, position: int, event: Any) -> None:
        """Orders a lifecycle change or a job (the close, the roll) took off the book."""
        self._apply_only(position, event)
        view = self._view(event)
        if view is None:
            return
        for order_id in event.order_ids:
            key = (view.market.instrument, order_id)
            record = self.orders.get(key)
            if record is not None:
                record.update(status="expired" if event.by == "system:close" else "cancelled",
                              reason=event.reason)
                self._settle_order(view.market, key)
        self._publish("book", {**self.depth(view.market.instrument, FEED_LEVELS),
                               "position": position})

    def _approved(self, position: int, event: Any) -> None:
        self._apply_only(position, event)
        trade = self.trades.get(event.trade_id)
        if trade is not None:
            trade.update(state="settled", settled_at=event.at, settled_position=position,
                         approved_by=event.administrator)
            self._publish("trade", _public_trade(trade))

    def _rejected(self, position: int, event: Any) -> None:
        self._apply_only(position, event)
        trade = self.trades.get(event.trade_id)
        if trade is not None:
            trade.update(state="rejected", rejected_at=event.at, rejected_position=position,
                         rejected_by=event.administrator, reason=event.reason)
            view = self._view(event)
            if view is not None:
                view.drop_from_bars(trade)
            self._publish("trade", _public_trade(trade))

    def _agreement(self, position: int, name: str, event: Any) -> None:
        if name == "Offered":
            self._track(event, self.agreements, event.reference, {
                "reference": event.reference, "seller": event.seller, "buyer": event.buyer,
                "instrument": event.instrument})
        self._note(event, name, position)

    def _auction(self, position: int, name: str, event: Any) -> None:
        if name == "Opened":
            self._track(event, self.auctions, event.auction_id, {
                "auction_id": event.auction_id, "instrument": event.instrument,
                "seller": event.seller})
        self._note(event, name, position)

    def _track(self, event: Any, into: dict[str, dict[str, Any]], key: str,
               record: dict[str, Any]) -> None:
        record["events"] = {}  # event name -> log position, for receipts
        into[key] = self._ids[event.originator_id] = record

    def _note(self, event: Any, name: str, position: int) -> None:
        record = self._ids.get(event.originator_id)
        if record is not None:
            record["events"][name] = position

    # -- the feed ------------------------------------------------------------------------------

    def _publish(self, event: str, data: dict[str, Any]) -> None:
        self.seq += 1
        self.feed.append(Message(self.seq, event, data))

    def messages_after(self, seq: int, instrument: str | None = None) -> list[Message]:
        """Feed messages after ``seq``; none (for now) while a refresh holds the lock, because
        the caller is an event loop that must never block on a catch-up."""
        if not self.lock.acquire(blocking=False):
            return []
        try:
            return [m for m in self.feed if m.seq > seq
                    and (instrument is None or m.data["instrument"] == instrument)]
        finally:
            self.lock.release()

    def notify(self) -> None:
        """Something was committed: pollers of the feed refresh at their next poll. (A lost
        increment between threads only delays that to their periodic refresh.)"""
        self.notes += 1

    def close(self) -> None:
        """Shutting down: open streams end at their next poll."""
        self.closed = True

    # -- reads (call `refresh` first) ----------------------------------------------------------

    def depth(self, instrument: str, levels: int) -> dict[str, Any]:
        with self.lock:
            book = self.markets[instrument].market.book
            d = book.depth(levels)
            return {"instrument": instrument, "position": self.position,
                    "bids": [_level(x) for x in d.bids], "asks": [_level(x) for x in d.asks]}

    def orders_of_account(self, account: str | None,
                          instrument: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            keys = (list(self.orders) if account is None else self.orders_of.get(account, []))
            return [dict(self.orders[k]) for k in keys
                    if instrument is None or k[0] == instrument]

    def trades_of(self, account: str | None,
                  instrument: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            ids = list(self.trades) if account is None else self.by_account.get(account, [])
            return [dict(self.trades[t]) for t in ids
                    if instrument is None or self.trades[t]["instrument"] == instrument]

    def recent_trades(self, instrument: str, limit: int) -> list[dict[str, Any]]:
        with self.lock:
            view = self.markets[instrument]
            done = [t for t in view.trades[-limit * 2 - 10:] if t["state"] != "rejected"]
            return [_public_trade(t) for t in reversed(done[-limit:])]

    def history(self, instrument: str, interval: str) -> list[dict[str, Any]]:
        """OHLC bars of the market's executed trades (rejected ones excluded), per day or hour
        of the trade's recorded time (China Standard Time); within a period trades count in
        log order. The bars are kept up to date as trades are folded in."""
        with self.lock:
            bars = self.markets[instrument].bars[WIDTHS[interval]]
            return [dict(bars[k]) for k in sorted(bars)]


def _level(level: Any) -> dict[str, int]:
    return {"price": level.price, "quantity": level.qty, "orders": level.orders}


def _public_trade(t: dict[str, Any]) -> dict[str, Any]:
    """What anyone may see of a trade: no buyer, seller or order ids."""
    return {"instrument": t["instrument"], "trade": t["trade"], "price": t["price"],
            "quantity": t["quantity"], "state": t["state"], "at": t["at"]}


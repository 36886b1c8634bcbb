"""The auditor's matching check: re-run the matching core over the order stream recorded in a
ledger export and compare every trade with the recorded one.

Only the export is read (``entries.jsonl``, via `registry.audit.export_records`) and only the
pure core (`domain.matching.OrderBook`) is run: no event store, no registry code. Per market
(aggregate id): ``Market.Opened`` gives the book rules, ``Market.ParametersSet`` a new day's
reference price (also ``Market.ReferenceRolled``, the daily roll), ``Market.OrdersCancelled``
the resting orders a lifecycle change or a job took off (``["A", id, qty, by]`` reduces one),
and each ``Market.BatchMatched`` the accepted requests in sequence
(``["S", id, account, side, kind, price, qty, entered_by]`` or ``["C", id, entered_by]``) with
the trades recorded for them (``[trade_id, op_index, taker, maker, price, qty, …]``) and the
resting orders self-trade prevention cancelled (``[op_index, order_id]``).

A recorded trade is *reproduced* when the re-run produces the same (taker, maker, price,
quantity) at the same place in the stream; every other recorded or re-run fill, and every
self-trade cancel that differs, counts as *differing* and is described in ``details``.
"""

from __future__ import annotations

from itertools import zip_longest
from pathlib import Path
from typing import Any

from domain.matching import BookRules, OrderBook, OrderRejected
from domain.records import AmendOp, CancelOp, StpCancel, Trade, op_of
from registry.audit import export_records

OPENED = "surplus:Market.Opened.v1"
PARAMETERS = "surplus:Market.ParametersSet.v1"
BATCH = "surplus:Market.BatchMatched.v1"
#: resting orders a lifecycle change (revocation, expiry, freeze, restriction) took off
CANCELLED = "surplus:Market.OrdersCancelled.v1"
#: the daily roll's new reference price
ROLLED = "surplus:Market.ReferenceRolled.v1"


def _rules(params: dict[str, Any]) -> BookRules:
    return BookRules(tick=params["tick"], reference_price=params["reference_price"],
                     band_pct=params["band_pct"], min_lot=params["min_lot"],
                     max_order=params["max_order"])


def _recorded_fills(trades: list[list[Any]]) -> dict[int, list[tuple[Any, ...]]]:
    """Per op index, the fills its trades record: (taker, maker, price, qty)."""
    recorded: dict[int, list[tuple[Any, ...]]] = {}
    for stored in trades:
        t = Trade.of(stored)
        recorded.setdefault(t.op_index, []).append((t.taker, t.maker, t.price, t.qty))
    return recorded


def audit_matching(directory: str | Path) -> tuple[int, int, list[str]]:
    """``(trades reproduced, trades that differ, details)`` for a ledger export folder."""
    books: dict[str, OrderBook] = {}
    reproduced = differ = 0
    details: list[str] = []
    for index, record in export_records(directory):
        topic = record.get("topic")
        if topic not in (OPENED, PARAMETERS, BATCH, CANCELLED, ROLLED):
            continue
        market, p = record["aggregate_id"], record["payload"]
        if topic == OPENED:
            books[market] = OrderBook(rules=_rules(p["params"]))
            continue
        book = books.get(market)
        if book is None:
            details.append(f"leaf {index}: market {market} has no Opened event in the export")
            differ += len(p.get("trades", []))
            continue
        if topic in (PARAMETERS, ROLLED):
            book.set_reference_price(p["params"]["reference_price"])
            continue
        if topic == CANCELLED:
            for order_id in p["order_ids"]:
                if not book.cancel(order_id):
                    details.append(f"leaf {index}: lifecycle cancel of {order_id!r} found "
                                   "no order")
            continue
        recorded = _recorded_fills(p["trades"])
        stp = {tuple(StpCancel.of(s)) for s in p["stp"]}
        for n, stored_op in enumerate(p["ops"]):
            fills: list[tuple[Any, ...]] = []
            op = op_of(stored_op)
            if type(op) is CancelOp:
                if not book.cancel(op.order_id):
                    details.append(f"leaf {index} op {n}: cancel of {op.order_id!r} found "
                                   "no order")
            elif type(op) is AmendOp:
                if not book.reduce(op.order_id, op.qty):
                    details.append(f"leaf {index} op {n}: amend of {op.order_id!r} found "
                                   "no order")
            else:
                try:
                    fills = [tuple(f) for f in book.submit(op.side, op.price, op.qty,
                                                          op.order_id, op.kind, op.account)]
                except OrderRejected as exc:
                    details.append(f"leaf {index} op {n}: order {op.order_id!r} is refused "
                                   f"on re-run ({exc})")
                for order_id in book.last_stp_cancels:
                    if (n, order_id) in stp:
                        stp.discard((n, order_id))
                    else:
                        details.append(f"leaf {index} op {n}: self-trade cancel of "
                                       f"{order_id!r} was not recorded")
                        differ += 1
            for got, want in zip_longest(fills, recorded.get(n, [])):
                if got == want:
                    reproduced += 1
                else:
                    differ += 1
                    details.append(f"leaf {index} op {n}: recorded {want}, re-run {got}")
        for n, order_id in sorted(stp, key=str):
            details.append(f"leaf {index} op {n}: recorded self-trade cancel of {order_id!r} "
                           "did not happen on re-run")
            differ += 1
    return reproduced, differ, details

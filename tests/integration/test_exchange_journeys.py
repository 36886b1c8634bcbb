"""Exchange journeys on the in-memory, SQLite and PostgreSQL stores: orders settling
delivery-versus-payment, the verification queue with four eyes, agreements, auctions, replay."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from domain.errors import (
    CreditRestricted,
    FourEyesViolation,
    InsufficientFunds,
    InvalidInput,
    OutsideTradingZone,
)
from domain.exchange.market import pool_ref
from domain.exchange.money import value
from domain.exchange.orders import Cancel, Order
from domain.matching import PriceOutsideBand
from registry.audit_matching import audit_matching
from registry.bootstrap import Registry
from registry.ledger_follower import store_leaves
from registry.replay import comparable
from tests.support.world import AT, World, build_world, issue

COD = "COD-2025-MAOZHOU"
NOX = "NOX-2025-SHENZHEN"
PRICE = 800_000  # 8,000 CNY per tonne, in fen per tonne
Factory = Callable[[], Registry]


def exchange_world(app: Registry, **params: Any) -> World:
    """Dyeing sells COD in the Maozhou basin and NOX in Shenzhen; everyone has 1M CNY. The
    markets trade continuously unless ``sessions`` are given (tests run at any hour)."""
    params.setdefault("sessions", [])
    w = build_world(app)
    issue(app, w, reference="RF-COD", enterprise=w.dyeing, kind="COD", baseline=100_000, post=0)
    issue(app, w, reference="RF-NOX", enterprise=w.electronics, kind="NOX", baseline=50_000,
          post=0)
    for n, who in enumerate((w.dyeing, w.paper, w.electronics, w.power)):
        app.exchange.deposit(enterprise=who, amount=100_000_000, reference=f"DEP-{n}",
                             administrator="admin-cash", at=AT)
    for code in (COD, NOX):
        app.exchange.open_market(instrument=code, administrator="admin-1", at=AT,
                                 reference_price=PRICE, **params)
    return w


def check_books(app: Registry) -> None:
    """Every reservation is explained by resting orders and pending trades; nothing leaks."""
    reserved_cash: dict[str, int] = {}
    for code in (COD, NOX):
        m = app.exchange.market(code)
        pool: dict[str, int] = {}
        for o in m.orders.values():
            account, side, price, remaining = o.account, o.side, o.price, o.remaining
            if side == "B":
                reserved_cash[account] = reserved_cash.get(account, 0) + value(price, remaining)
            else:
                pool[account] = pool.get(account, 0) + remaining
        for t in m.pending.values():
            reserved_cash[t["buyer"]] = reserved_cash.get(t["buyer"], 0) + t["value"]
            pool[t["seller"]] = pool.get(t["seller"], 0) + t["qty"]
        i = app.instrument(code)
        held = {o: i.reserved_under(pool_ref(code)) for o in pool}
        in_pool: dict[str, int] = {}
        for b in i.iter_blocks():
            if b[3] == "reserved" and b[5] == pool_ref(code):
                in_pool[b[2]] = in_pool.get(b[2], 0) + b[1] - b[0] + 1
        assert in_pool == {k: v for k, v in pool.items() if v}, (code, held)
        assert sum(i.totals().values()) == i.issued()
    for who in {*reserved_cash}:
        assert app.exchange.cash_account(who).reserved == reserved_cash[who]


def cash(app: Registry, who: str) -> tuple[int, int]:
    a = app.exchange.cash_account(who)
    return a.balance, a.reserved


def test_limit_orders_settle_delivery_versus_payment(factory: Factory) -> None:
    app = factory()
    w = exchange_world(app)
    app.exchange.submit_order(instrument=COD, order_id="s1", account=w.dyeing, side="S", kind="L",
                              price=PRICE, qty=10_000, entered_by="dyeing-trader", at=AT)
    out = app.exchange.submit_order(instrument=COD, order_id="b1", account=w.paper, side="B",
                                    kind="L", price=PRICE + 10_000, qty=4_000,
                                    entered_by="paper-trader", at=AT)
    # the buyer pays the resting seller's price; the 10,000 fen/t improvement is released
    assert out.fills == [[f"{COD}:1", PRICE, 4_000, "settled"]]
    assert cash(app, w.paper) == (100_000_000 - 3_200_000, 0)
    assert cash(app, w.dyeing) == (100_000_000 + 3_200_000, 0)
    i = app.instrument(COD)
    assert i.balances()[w.paper] == {"available": 4_000}
    assert i.balances()[w.dyeing]["reserved"] == 6_000
    app.exchange.cancel_order(instrument=COD, order_id="s1", account=w.dyeing,
                              entered_by="dyeing-trader", at=AT)
    assert i.reserved_under(pool_ref(COD)) == 6_000  # the old copy
    assert app.instrument(COD).reserved_under(pool_ref(COD)) == 0
    check_books(app)


def test_market_buy_reserves_the_band_top_and_releases_its_remainder(factory: Factory) -> None:
    app = factory()
    w = exchange_world(app)
    app.exchange.submit_order(instrument=COD, order_id="s1", account=w.dyeing, side="S", kind="L",
                              price=PRICE, qty=2_000, entered_by="d", at=AT)
    out = app.exchange.submit_order(instrument=COD, order_id="m1", account=w.paper, side="B",
                                    kind="M", price=0, qty=5_000, entered_by="p", at=AT)
    assert out.fills == [[f"{COD}:1", PRICE, 2_000, "settled"]] and out.resting == 0
    assert cash(app, w.paper) == (100_000_000 - 1_600_000, 0)
    check_books(app)


def test_self_trade_prevention_cancels_the_resting_order_and_releases_it(
        factory: Factory) -> None:
    app = factory()
    w = exchange_world(app)
    app.exchange.submit_orders(instrument=COD, at=AT, requests=[
        Order("d-buy", w.dyeing, "B", "L", PRICE, 3_000, "d"),
        Order("p-sell", w.paper, "S", "L", PRICE + 5_000, 0 + 1_000, "p"),
    ])
    assert cash(app, w.dyeing)[1] == 2_400_000
    out = app.exchange.submit_order(instrument=COD, order_id="d-sell", account=w.dyeing, side="S",
                                    kind="L", price=PRICE, qty=1_000, entered_by="d", at=AT)
    # the incoming sell met the same enterprise's resting buy: that buy is cancelled
    assert out.fills == [] and out.resting == 1_000
    assert cash(app, w.dyeing) == (100_000_000, 0)
    assert app.exchange.market(COD).batches == 2
    check_books(app)


def test_refused_orders_write_nothing(factory: Factory) -> None:
    app = factory()
    w = exchange_world(app)
    position = app.queries.position()
    refusals = [
        (Order("x1", w.power, "B", "L", PRICE, 1_000, "x"), OutsideTradingZone),
        (Order("x2", w.electronics, "B", "L", PRICE, 1_000, "x"), OutsideTradingZone),
        (Order("x3", w.paper, "B", "L", PRICE, 1_000_000, "x"), InsufficientFunds),
        (Order("x4", w.paper, "B", "L", PRICE, 1_500, "x"), InvalidInput),
        (Order("x5", w.paper, "B", "L", PRICE * 2, 1_000, "x"), PriceOutsideBand),
    ]
    for order, error in refusals:
        with pytest.raises(error):
            app.exchange.submit_order(instrument=COD, at=AT, **order._asdict())
    app.lifecycle.restrict_enterprise(credit_code=w.paper, reason="fraud", reference="SC-1", at=AT)
    position = app.queries.position()
    with pytest.raises(CreditRestricted):
        app.exchange.submit_order(instrument=COD, order_id="x6", account=w.paper, side="B",
                                  kind="L", price=PRICE, qty=1_000, entered_by="p", at=AT)
    assert app.queries.position() == position
    assert app.exchange.market(COD).batches == 0


def test_trade_above_threshold_waits_for_a_second_administrator(factory: Factory) -> None:
    app = factory()
    w = exchange_world(app)
    app.exchange.set_market_parameters(instrument=COD, administrator="admin-2", at=AT,
                                       verify_above=5_000_000)
    app.exchange.submit_order(instrument=COD, order_id="s1", account=w.dyeing, side="S", kind="L",
                              price=PRICE, qty=10_000, entered_by="admin-3", at=AT)  # phone order
    out = app.exchange.submit_order(instrument=COD, order_id="b1", account=w.paper, side="B",
                                    kind="L", price=PRICE, qty=10_000, entered_by="paper-trader",
                                    at=AT)
    assert out.fills[0][3] == "pending"
    [queued] = app.exchange.verification_queue()
    assert queued["reasons"] == ["above-threshold"] and queued["value"] == 8_000_000
    assert queued["initiators"] == ["admin-2", "admin-3", "paper-trader"]
    # reserved on both sides while it waits
    assert cash(app, w.paper) == (100_000_000, 8_000_000)
    assert app.instrument(COD).reserved_under(pool_ref(COD)) == 10_000
    check_books(app)
    for initiator in ("admin-2", "admin-3"):  # set the threshold / entered an order
        with pytest.raises(FourEyesViolation):
            app.exchange.approve_trade(instrument=COD, trade_id=queued["trade"],
                                       administrator=initiator, at=AT)
    app.exchange.approve_trade(instrument=COD, trade_id=queued["trade"], administrator="admin-4",
                               at=AT)
    assert app.exchange.verification_queue() == []
    assert cash(app, w.paper) == (92_000_000, 0)
    assert cash(app, w.dyeing) == (108_000_000, 0)
    assert app.instrument(COD).balances()[w.paper] == {"available": 10_000}
    check_books(app)


def test_rejected_trade_releases_every_reservation(factory: Factory) -> None:
    app = factory()
    w = exchange_world(app, verify_above=0)
    app.exchange.submit_orders(instrument=COD, at=AT, requests=[
        Order("s1", w.dyeing, "S", "L", PRICE, 3_000, "d"),
        Order("b1", w.paper, "B", "L", PRICE, 3_000, "p"),
    ])
    [queued] = app.exchange.verification_queue()
    app.exchange.reject_trade(instrument=COD, trade_id=queued["trade"], administrator="admin-1",
                              reason="counterparty under review", at=AT)
    assert cash(app, w.paper) == (100_000_000, 0)
    assert app.instrument(COD).balances()[w.dyeing] == {"available": 100_000}
    check_books(app)


def test_thermal_power_trade_fails_sector_check_and_cannot_be_approved(
        factory: Factory) -> None:
    app = factory()
    w = exchange_world(app)
    app.exchange.submit_order(instrument=NOX, order_id="s1", account=w.electronics, side="S",
                              kind="L", price=PRICE, qty=2_000, entered_by="e", at=AT)
    app.exchange.submit_order(instrument=NOX, order_id="b1", account=w.power, side="B", kind="L",
                              price=PRICE, qty=2_000, entered_by="pw", at=AT)
    [queued] = app.exchange.verification_queue()
    assert queued["reasons"] == ["outside-trading-zone"]
    with pytest.raises(OutsideTradingZone):  # approval re-runs the automated checks
        app.exchange.approve_trade(instrument=NOX, trade_id=queued["trade"],
                                   administrator="admin-9", at=AT)
    assert len(app.exchange.verification_queue()) == 1
    app.exchange.reject_trade(instrument=NOX, trade_id=queued["trade"], administrator="admin-9",
                              reason="sector rule", at=AT)
    check_books(app)
    assert cash(app, w.power) == (100_000_000, 0)


def test_restriction_cancels_the_resting_orders_and_the_pending_trades_of_the_party(
        factory: Factory) -> None:
    app = factory()
    w = exchange_world(app)
    app.exchange.set_market_parameters(instrument=COD, administrator="admin-p", at=AT,
                                       verify_above=0)
    app.exchange.submit_order(instrument=COD, order_id="s1", account=w.dyeing, side="S", kind="L",
                              price=PRICE, qty=2_000, entered_by="d", at=AT)
    app.exchange.submit_order(instrument=COD, order_id="b0", account=w.paper, side="B", kind="L",
                              price=PRICE, qty=1_000, entered_by="p",
                              at=AT)  # waits: above threshold
    app.exchange.submit_order(instrument=COD, order_id="b2", account=w.dyeing, side="B", kind="L",
                              price=PRICE - 50_000, qty=1_000, entered_by="d", at=AT)
    assert len(app.exchange.verification_queue()) == 1
    ended = app.lifecycle.restrict_enterprise(credit_code=w.dyeing, reason="spot check",
                                              reference="SC-2", at=AT)
    assert {e["what"] for e in ended["ended"]} == {"orders-ended"}
    m = app.exchange.market(COD)
    assert m.orders == {} and m.pending == {} and app.exchange.verification_queue() == []
    assert cash(app, w.paper) == (100_000_000, 0)  # the pending purchase's cash is back
    assert cash(app, w.dyeing) == (100_000_000, 0)  # its own buy order's cash is back
    assert app.instrument(COD).reserved_under(pool_ref(COD)) == 0
    out = app.exchange.submit_order(instrument=COD, order_id="b1", account=w.paper, side="B",
                                    kind="L", price=PRICE, qty=2_000, entered_by="p", at=AT)
    assert out.fills == [] and out.resting == 2_000  # nothing of the barred seller is left
    with pytest.raises(CreditRestricted):
        app.holdings.retire(instrument=COD, owner=w.dyeing, quantity=1_000, reason="gift", at=AT)
    check_books(app)


def trading_day(app: Registry, w: World) -> None:
    app.exchange.submit_orders(instrument=COD, at=AT, requests=[
        Order("s1", w.dyeing, "S", "L", PRICE, 10_000, "d"),
        Order("s2", w.dyeing, "S", "L", PRICE + 1_000, 10_000, "d"),
        Order("b1", w.paper, "B", "L", PRICE + 2_000, 12_000, "p"),
        Order("b2", w.paper, "B", "L", PRICE - 5_000, 3_000, "p"),
        Order("m1", w.paper, "B", "M", 0, 1_000, "p"),
    ])
    app.exchange.submit_orders(instrument=COD, at=AT, requests=[
        Cancel("b2", w.paper, "p"), Order("s3", w.dyeing, "S", "L", PRICE - 5_000, 1_000, "d"),
        Order("b3", w.paper, "B", "L", PRICE - 4_000, 2_000, "p"),
    ])


def test_books_and_balances_are_rebuilt_exactly_after_reopening(factory: Factory) -> None:
    app = factory()
    w = exchange_world(app)
    trading_day(app, w)
    # the writer's live copy
    live = app.exchange_writes.writer().cache[app.exchange.market(COD).id].book
    reopened = factory()
    assert reopened.exchange.market(COD).book == live
    assert len(live) == 2  # s2 (1,000 left after m1) and b3's remainder
    fold = reopened.queries.replay()
    for aggregate_id, rebuilt in fold.aggregates.items():
        assert comparable(rebuilt) == comparable(reopened.repository.get(aggregate_id))
    check_books(reopened)


def export(app: Registry, folder: Path, tamper: Callable[[dict[str, Any]], None] | None = None
           ) -> Path:
    folder.mkdir()
    with open(folder / "entries.jsonl", "w") as f:
        for n, stored in enumerate(store_leaves(app)):
            record, leaf = json.loads(stored), stored
            if tamper is not None and record["topic"] == "surplus:Market.BatchMatched.v1":
                tamper(record)
                leaf = json.dumps(record).encode()
            f.write(json.dumps({"index": n, "leaf": base64.b64encode(leaf).decode()}) + "\n")
    return folder


def test_audit_matching_reproduces_every_recorded_trade(factory: Factory,
                                                        tmp_path: Path) -> None:
    app = factory()
    w = exchange_world(app)
    trading_day(app, w)
    trades = app.exchange.market(COD).trade_count
    assert audit_matching(export(app, tmp_path / "good")) == (trades, 0, [])

    done: list[bool] = []

    def cheaper(record: dict[str, Any]) -> None:  # one trade recorded 10 CNY/t too cheap
        if record["payload"]["trades"] and not done:
            record["payload"]["trades"][0][4] -= 1_000
            done.append(True)

    reproduced, differ, details = audit_matching(export(app, tmp_path / "bad", cheaper))
    assert (reproduced, differ) == (trades - 1, 1) and "recorded" in details[0]


def test_exchange_trades_show_in_provenance_and_annual_report(factory: Factory) -> None:
    app = factory()
    w = exchange_world(app)
    trading_day(app, w)
    bought = app.instrument(COD).balances()[w.paper]["available"]
    assert bought > 0
    report = {
        r["kind"]: r for r in app.queries.annual_report(enterprise=w.paper, year=2025)["rows"]}
    assert report["COD"]["bought"] == bought
    sold = {r["kind"]: r for r in app.queries.annual_report(enterprise=w.dyeing, year=2025)["rows"]}
    assert sold["COD"]["sold"] == bought
    first_owned = app.instrument(COD).owned[w.paper][0]
    trail = app.queries.provenance(f"{COD}-{first_owned:09d}")["history"]
    steps = [h for h in trail if h["event"] == "BatchSettled"]
    assert any(h["step"] == "transfer" and h["buyer"] == w.paper and h["seller"] == w.dyeing
               and h["trade"].startswith(COD) for h in steps)
    assert trail[0]["event"] == "LotIssued"

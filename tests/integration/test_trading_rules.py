"""The exchange's rules beyond the book: agreements priced within their band around the
reference price; trading sessions, day and GTC orders, the close and the daily roll, bands that
leave no resting order outside them, amends and what responses say."""

from __future__ import annotations

from typing import Any

import pytest

from domain.errors import InvalidInput, InvalidState, MarketClosed, PriceOutsideAgreementBand
from domain.exchange.market import pool_ref
from domain.exchange.money import value
from domain.exchange.orders import Outcome
from domain.exchange.params import MarketParams
from registry.bootstrap import Registry, build_registry
from tests.integration.test_exchange_journeys import (
    COD,
    NOX,
    PRICE,
    cash,
    check_books,
    exchange_world,
)
from tests.support.world import World, code, issue


@pytest.fixture
def app() -> Registry:
    return build_registry({"REGISTRY_STORE": "memory"})


AT = "2025-03-03T10:00:00+08:00"  # a Monday, in the morning session


def test_agreements_are_priced_within_thirty_percent_of_the_reference(app: Registry) -> None:
    w = exchange_world(app)
    for n, price in enumerate((PRICE * 13 // 10 + 1, PRICE * 7 // 10 - 1)):
        with pytest.raises(PriceOutsideAgreementBand):
            app.exchange_modes.offer_agreement(reference=f"AG-{n}", instrument=COD, seller=w.dyeing,
                                               buyer=w.paper, price=price, qty=1_000,
                                               offered_by="d", at=AT)
    assert app.instrument(COD).reservations() == {}  # refused: nothing reserved
    for n, price in enumerate((PRICE * 13 // 10, PRICE * 7 // 10)):
        app.exchange_modes.offer_agreement(reference=f"AG-ok{n}", instrument=COD, seller=w.dyeing,
                                           buyer=w.paper, price=price, qty=1_000, offered_by="d",
                                           at=AT)


def test_the_agreement_band_is_a_market_parameter(app: Registry) -> None:
    w = exchange_world(app, agreement_band_pct=5)
    with pytest.raises(PriceOutsideAgreementBand):
        app.exchange_modes.offer_agreement(reference="AG-1", instrument=COD, seller=w.dyeing,
                                           buyer=w.paper, price=PRICE * 106 // 100, qty=1_000,
                                           offered_by="d", at=AT)
    with pytest.raises(InvalidInput):
        MarketParams(reference_price=PRICE, agreement_band_pct=100)


# -- sessions ----------------------------------------------------------------------------------

CHINA = [["09:30", "11:30"], ["13:00", "15:00"]]
MON_CLOSE = "2025-03-03T15:30:00+08:00"
TUE_ROLL = "2025-03-04T09:00:00+08:00"
TUE = "2025-03-04T09:45:00+08:00"


def session_world(app: Registry, **params: Any) -> World:
    return exchange_world(app, sessions=CHINA, **params)


def sell(app: Registry, w: World, oid: str, price: int, qty: int, at: str = AT,
         **kw: Any) -> Outcome:
    return app.exchange.submit_order(instrument=COD, order_id=oid, account=w.dyeing, side="S",
                                     kind="L", price=price, qty=qty, entered_by="d", at=at, **kw)


def buy(app: Registry, w: World, oid: str, price: int, qty: int, at: str = AT,
        kind: str = "L", **kw: Any) -> Outcome:
    return app.exchange.submit_order(instrument=COD, order_id=oid, account=w.paper, side="B",
                                     kind=kind, price=price, qty=qty, entered_by="p", at=at, **kw)


def test_the_default_sessions_are_chinas_listed_trading_hours() -> None:
    assert MarketParams(reference_price=PRICE).sessions == CHINA


@pytest.mark.parametrize("at", [
    "2025-03-01T10:00:00+08:00",  # a Saturday
    "2025-03-03T09:29:00+08:00", "2025-03-03T12:00:00+08:00", "2025-03-03T15:00:00+08:00",
    "2025-03-03T08:00:00+00:00",  # 16:00 CST
])
def test_orders_outside_the_sessions_are_refused(app: Registry, at: str) -> None:
    w = session_world(app)
    with pytest.raises(MarketClosed):
        sell(app, w, "s1", PRICE, 1_000, at=at)
    assert app.instrument(COD).reservations() == {}


def test_sessions_are_in_china_time_and_skip_holidays(app: Registry) -> None:
    w = session_world(app, holidays=["2025-03-04"])
    assert sell(app, w, "s1", PRICE, 1_000, at="2025-03-03T03:00:00+00:00").status == "accepted"
    with pytest.raises(MarketClosed):
        sell(app, w, "s2", PRICE, 1_000, at=TUE)


def test_day_orders_expire_at_the_close_and_gtc_orders_at_their_bound(app: Registry) -> None:
    w = session_world(app, gtc_days=2)
    buy(app, w, "b-day", PRICE - 10_000, 5_000)
    buy(app, w, "b-gtc", PRICE - 20_000, 5_000, tif="GTC")
    with pytest.raises(InvalidInput):  # a market order cannot rest, so it cannot be GTC
        buy(app, w, "m-gtc", 0, 1_000, kind="M", tif="GTC")
    assert app.sessions.close_markets(at="2025-03-03T14:00:00+08:00") == {}  # not closed yet
    position = app.queries.position()
    assert app.sessions.close_markets(at=MON_CLOSE) == {COD: ["b-day"], NOX: []}
    [cancelled] = [app.mapper.to_domain_event(n)
                   for n in app.recorder.select_notifications(position + 1, 100)
                   if n.topic.endswith("OrdersCancelled.v1")]
    assert cancelled.by == "system:close" and cancelled.reason == "expired at the close"
    assert cash(app, w.paper) == (100_000_000, value(PRICE - 20_000, 5_000))
    assert app.sessions.close_markets(at="2025-03-04T15:10:00+08:00")[COD] == []
    assert app.sessions.close_markets(at="2025-03-05T15:10:00+08:00")[COD] == ["b-gtc"]
    assert cash(app, w.paper) == (100_000_000, 0)
    check_books(app)


def test_the_roll_sets_the_previous_close_and_cancels_orders_outside_the_new_band(
        app: Registry) -> None:
    w = session_world(app)
    top = PRICE * 11 // 10  # 880,000: the top of Monday's band
    sell(app, w, "s1", top, 2_000)
    buy(app, w, "b1", top, 2_000)  # Monday closes at 880,000
    buy(app, w, "b-low", PRICE - 50_000, 3_000, tif="GTC")  # 750,000: below Tuesday's band
    sell(app, w, "s-in", top, 1_000, tif="GTC")
    out = app.sessions.roll_markets(at=TUE_ROLL)
    assert out[COD] == {"reference_price": top, "rolled": True, "cancelled": ["b-low"]}
    assert out[NOX]["rolled"] is False  # no trades: the reference stays
    assert app.exchange.market(COD).market_params().reference_price == top
    assert list(app.exchange.market(COD).orders) == ["s-in"]
    assert cash(app, w.paper)[1] == 0
    with pytest.raises(InvalidState):  # once a trading day
        app.sessions.roll_markets(at=TUE)
    check_books(app)


def test_the_vwap_rule_rolls_to_the_days_average_price(app: Registry) -> None:
    w = session_world(app, reference_rule="vwap")
    sell(app, w, "s1", PRICE, 1_000)
    sell(app, w, "s2", PRICE + 40_000, 3_000)
    buy(app, w, "b1", PRICE + 40_000, 4_000)
    assert app.sessions.roll_markets(at=TUE_ROLL)[COD]["reference_price"] == 830_000


def test_a_new_band_leaves_no_resting_order_outside_it_so_reserved_cash_covers_fills(
        app: Registry) -> None:
    w = exchange_world(app)
    sell(app, w, "s-high", PRICE * 11 // 10, 5_000)  # 880,000
    app.exchange.set_market_parameters(instrument=COD, administrator="admin-p", at=AT,
                                       reference_price=300_000)  # band [270,000, 330,000]
    assert app.exchange.market(COD).orders == {}
    assert app.instrument(COD).reservations() == {}
    out = buy(app, w, "m1", 0, 5_000, kind="M")
    assert (out.status, out.fills, out.resting) == ("expired", [], 0)
    assert cash(app, w.paper) == (100_000_000, 0)
    check_books(app)


def test_amending_down_keeps_priority_and_a_new_price_loses_it(app: Registry) -> None:
    w = exchange_world(app)
    issue(app, w, reference="RF-P", enterprise=w.paper, kind="COD", baseline=20_000, post=0)
    sell(app, w, "s1", PRICE, 5_000)
    app.exchange.submit_order(instrument=COD, order_id="s2", account=w.paper, side="S", kind="L",
                              price=PRICE, qty=5_000, entered_by="q", at=AT)
    out = app.exchange.amend_order(instrument=COD, order_id="s1", account=w.dyeing, qty=2_000,
                                   price=None, entered_by="d", at=AT)
    assert (out.status, out.resting) == ("amended", 2_000)
    assert app.instrument(COD).reserved_under(pool_ref(COD)) == 7_000  # 3 t went back
    out = app.exchange.amend_order(instrument=COD, order_id="s1", account=w.dyeing, qty=2_000,
                                   price=PRICE + 10_000, entered_by="d",
                                   at=AT)  # re-enters at the back
    assert (out.status, out.resting) == ("amended", 2_000)
    app.exchange.amend_order(instrument=COD, order_id="s1", account=w.dyeing, qty=2_000,
                             price=PRICE, entered_by="d", at=AT)  # back to PRICE: behind s2 now
    taker = code(100)
    app.register_enterprise(credit_code=taker, name="Dongguan Dyeing 1",
                            sector="TEXTILE_DYEING", prefecture="DONGGUAN", basin="MAOZHOU",
                            direct_discharger=True, at=AT)
    app.exchange.deposit(enterprise=taker, amount=10_000_000, reference="D-T", administrator="c",
                         at=AT)
    got = app.exchange.submit_order(instrument=COD, order_id="b2", account=taker, side="B",
                                    kind="L", price=PRICE, qty=1_000, entered_by="t", at=AT)
    assert [f[2] for f in got.fills] == [1_000]
    # s2 now comes first: s1 lost its place
    assert app.exchange.market(COD).orders["s2"].remaining == 4_000
    with pytest.raises(InvalidInput):
        app.exchange.amend_order(instrument=COD, order_id="s2", account=w.paper, qty=4_000,
                                 price=None, entered_by="q", at=AT)  # changes nothing
    check_books(app)


def test_a_cancel_says_how_much_the_order_had_filled(app: Registry) -> None:
    w = exchange_world(app)
    sell(app, w, "s1", PRICE, 50_000)
    buy(app, w, "b1", PRICE, 30_000)
    out = app.exchange.cancel_order(instrument=COD, order_id="s1", account=w.dyeing, entered_by="d",
                                    at=AT)
    assert (out.status, out.filled) == ("cancelled", 30_000)

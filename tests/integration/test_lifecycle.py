"""Every lifecycle change ends what stands on the units or the party it touches, in the same
save, and releases what they held: revocation, expiry, freeze, credit restriction; a halt holds."""

from __future__ import annotations

import pytest

from domain.errors import InvalidState, MarketHalted
from domain.exchange.market import pool_ref
from domain.exchange.orders import Cancel, Order
from registry import holds
from registry.bootstrap import Registry, build_registry
from tests.integration.test_exchange_journeys import COD, PRICE, cash, check_books, exchange_world
from tests.support.world import AT, World, issue


@pytest.fixture
def app() -> Registry:
    return build_registry({"REGISTRY_STORE": "memory"})


def topics_since(app: Registry, position: int) -> list[str]:
    return [n.topic for n in app.recorder.select_notifications(position + 1, 1000)]


def sell_and_queue_a_buy(app: Registry, w: World) -> None:
    """Dyeing lists 10 t; paper's 5 t fill waits for an administrator (threshold 0)."""
    app.exchange.set_market_parameters(instrument=COD, administrator="admin-p", at=AT,
                                       verify_above=0)
    app.exchange.submit_order(instrument=COD, order_id="s1", account=w.dyeing, side="S", kind="L",
                              price=PRICE, qty=10_000, entered_by="d", at=AT)
    app.exchange.submit_order(instrument=COD, order_id="b1", account=w.paper, side="B", kind="L",
                              price=PRICE, qty=5_000, entered_by="p", at=AT)
    assert len(app.exchange.verification_queue()) == 1


def test_revocation_under_a_resting_sell_ends_the_order_and_the_pending_trade(
        app: Registry) -> None:
    w = exchange_world(app)
    sell_and_queue_a_buy(app, w)
    position = app.queries.position()
    app.retrofits.revoke_retrofit(reference="RF-COD", reason="fabricated baseline",
                                  spot_check="SC-1", at=AT, restrict_enterprise=False)
    m = app.exchange.market(COD)
    assert m.orders == {} and m.pending == {}
    assert cash(app, w.paper) == (100_000_000, 0)  # the queued buyer's 4,000,000 fen is back
    assert app.instrument(COD).reserved_under(pool_ref(COD)) == 0
    topics = topics_since(app, position)
    assert "surplus:Market.OrdersCancelled.v1" in topics
    assert "surplus:Market.TradeRejected.v1" in topics
    assert len({n.id for n in app.recorder.select_notifications(position + 1, 1000)}) > 1
    check_books(app)


def test_revocation_ends_agreements_auctions_holds_and_applications(app: Registry) -> None:
    w = exchange_world(app)
    app.exchange_modes.offer_agreement(reference="AG-1", instrument=COD, seller=w.dyeing,
                                       buyer=w.paper, price=PRICE, qty=5_000, offered_by="d", at=AT)
    app.exchange_modes.accept_agreement(reference="AG-1", buyer=w.paper, accepted_by="p", at=AT)
    app.exchange_modes.open_auction(auction_id="AU-1", instrument=COD, seller=w.dyeing,
                                    volume=20_000, reserve_price=PRICE, min_bid=1_000,
                                    administrator="admin-1", at=AT)
    app.exchange_modes.place_bid(auction_id="AU-1", bid_id="x1", bidder=w.paper, price=PRICE,
                                 qty=5_000, entered_by="p", at=AT)
    holds.reserve(app, instrument=COD, owner=w.dyeing, quantity=3_000, ref="H-1", at=AT)
    app.holdings.submit_expansion(reference="EX-1", enterprise=w.dyeing, instrument=COD,
                                  quantity=2_000, project="line 3", at=AT)
    app.retrofits.revoke_retrofit(reference="RF-COD", reason="fabricated", spot_check="SC-1", at=AT,
                                  restrict_enterprise=False)
    assert app.exchange_modes.agreement("AG-1").state == "rejected"
    assert app.exchange_modes.auction("AU-1").state == "voided"
    assert app.expansion("EX-1").state == "rejected"
    assert cash(app, w.paper) == (100_000_000, 0)
    assert app.instrument(COD).reservations() == {}
    with pytest.raises(InvalidState):  # a voided auction takes no bids
        app.exchange_modes.place_bid(auction_id="AU-1", bid_id="x2", bidder=w.paper, price=PRICE,
                                     qty=1_000, entered_by="q", at=AT)


def test_freeze_reaches_listed_and_held_units(app: Registry) -> None:
    w = exchange_world(app)
    app.exchange.submit_order(instrument=COD, order_id="s1", account=w.dyeing, side="S", kind="L",
                              price=PRICE, qty=10_000, entered_by="d", at=AT)
    holds.reserve(app, instrument=COD, owner=w.dyeing, quantity=5_000, ref="park", at=AT)
    frozen = app.holdings.freeze(instrument=COD, owner=w.dyeing, ref="FZ-1", reason="court order",
                                 at=AT)
    assert frozen == 100_000  # every unit, the listed and the parked ones too
    assert app.exchange.market(COD).orders == {}
    out = app.exchange.submit_order(instrument=COD, order_id="b1", account=w.paper, side="B",
                                    kind="L", price=PRICE, qty=5_000, entered_by="p", at=AT)
    assert out.fills == []
    check_books(app)


def test_freeze_within_the_available_units_leaves_the_orders(app: Registry) -> None:
    w = exchange_world(app)
    app.exchange.submit_order(instrument=COD, order_id="s1", account=w.dyeing, side="S", kind="L",
                              price=PRICE, qty=10_000, entered_by="d", at=AT)
    app.holdings.freeze(instrument=COD, owner=w.dyeing, ref="FZ-1", reason="check", at=AT,
                        quantity=50_000)
    assert list(app.exchange.market(COD).orders) == ["s1"]
    check_books(app)


def test_expiry_ends_resting_orders_and_applications(app: Registry) -> None:
    w = exchange_world(app)
    app.exchange.submit_order(instrument=COD, order_id="s1", account=w.dyeing, side="S", kind="L",
                              price=PRICE, qty=10_000, entered_by="d", at=AT)
    app.holdings.submit_expansion(reference="EX-1", enterprise=w.dyeing, instrument=COD,
                                  quantity=2_000, project="line 3", at=AT)
    counts = app.holdings.expire(as_of="2031-01-01", at="2031-01-01T00:00:00+08:00")
    assert counts[COD] == 100_000
    assert app.exchange.market(COD).orders == {}
    assert app.expansion("EX-1").state == "rejected"
    check_books(app)


def test_a_halted_market_holds_its_book_and_still_cancels(app: Registry) -> None:
    w = exchange_world(app)
    app.exchange.submit_order(instrument=COD, order_id="s1", account=w.dyeing, side="S", kind="L",
                              price=PRICE, qty=10_000, entered_by="d", at=AT)
    app.lifecycle.halt_market(
        instrument=COD, reason="price anomaly", administrator="admin-1", at=AT)
    with pytest.raises(MarketHalted):
        app.exchange.submit_order(instrument=COD, order_id="b1", account=w.paper, side="B",
                                  kind="L", price=PRICE, qty=1_000, entered_by="p", at=AT)
    assert list(app.exchange.market(COD).orders) == ["s1"]  # held, not lost
    out = app.exchange.submit_orders(instrument=COD, at=AT, requests=[
        Cancel("s1", w.dyeing, "d"), Order("b2", w.paper, "B", "L", PRICE, 1_000, "p")])
    assert [o.status for o in out] == ["cancelled", "rejected"]
    app.lifecycle.resume_market(instrument=COD, reason="cleared", administrator="admin-2", at=AT)
    with pytest.raises(InvalidState):
        app.lifecycle.resume_market(instrument=COD, reason="again", administrator="admin-2", at=AT)
    out2 = app.exchange.submit_order(instrument=COD, order_id="b3", account=w.paper, side="B",
                                     kind="L", price=PRICE, qty=1_000, entered_by="p", at=AT)
    assert out2.status == "accepted"
    check_books(app)


def test_an_administrator_voids_an_auction_releasing_every_bid(app: Registry) -> None:
    w = exchange_world(app)
    app.exchange_modes.open_auction(auction_id="AU-1", instrument=COD, seller=w.dyeing,
                                    volume=20_000, reserve_price=PRICE, min_bid=1_000,
                                    administrator="admin-1", at=AT)
    for n in range(2):
        app.exchange_modes.place_bid(auction_id="AU-1", bid_id=f"x{n}", bidder=w.paper, price=PRICE,
                                     qty=5_000, entered_by="t", at=AT)
    app.lifecycle.void_auction(auction_id="AU-1", reason="seller withdrew", administrator="admin-2",
                               at=AT)
    assert app.exchange_modes.auction("AU-1").state == "voided"
    assert cash(app, w.paper) == (100_000_000, 0)
    assert app.instrument(COD).reservations() == {}
    with pytest.raises(InvalidState):
        app.lifecycle.void_auction(
            auction_id="AU-1", reason="again", administrator="admin-2", at=AT)


def test_restriction_withdraws_the_partys_bids_and_agreements(app: Registry) -> None:
    w = exchange_world(app)
    issue(app, w, reference="RF-P", enterprise=w.paper, kind="COD", baseline=20_000, post=0)
    app.exchange_modes.open_auction(auction_id="AU-1", instrument=COD, seller=w.dyeing,
                                    volume=20_000, reserve_price=PRICE, min_bid=1_000,
                                    administrator="admin-1", at=AT)
    app.exchange_modes.place_bid(auction_id="AU-1", bid_id="x1", bidder=w.paper, price=PRICE,
                                 qty=5_000, entered_by="p", at=AT)
    app.exchange_modes.offer_agreement(reference="AG-1", instrument=COD, seller=w.dyeing,
                                       buyer=w.paper, price=PRICE, qty=5_000, offered_by="d", at=AT)
    app.exchange_modes.accept_agreement(reference="AG-1", buyer=w.paper, accepted_by="p", at=AT)
    holds.reserve(app, instrument=COD, owner=w.paper, quantity=1_000, ref="H", at=AT)
    app.lifecycle.restrict_enterprise(credit_code=w.paper, reason="fraud", reference="CR-1", at=AT)
    assert app.exchange_modes.auction(
        "AU-1").state == "open" and app.exchange_modes.auction("AU-1").bids == []
    assert app.exchange_modes.agreement("AG-1").state == "rejected"
    assert cash(app, w.paper) == (100_000_000, 0)
    assert app.instrument(COD).reservations() == {"auction:AU-1": {w.dyeing: 20_000}}

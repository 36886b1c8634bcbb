"""Settlement on the exchange amends both parties' confirmed rights in the settlement's own
save: a group-committed batch (one change per enterprise and kind, naming every trade), an
approved trade, an agreement, an auction; the §19 report counts the trades as sold and bought,
at positions that are the settlement's own events."""

from __future__ import annotations

from typing import Any

import pytest

from domain.confirmed_right import ConfirmedRight
from domain.errors import InvalidState
from domain.exchange.orders import Order
from registry.bootstrap import Registry
from registry.compliance import enterprise_report_from
from registry.events import stored_events
from registry.replay import Fold, comparable
from tests.conftest import Factory
from tests.integration.test_exchange_journeys import COD, PRICE, exchange_world
from tests.support.world import AT, GENEROUS_RIGHT, World, code, ensure_right

#: a second COD buyer in the Maozhou basin (a direct discharger, as COD trading requires)
OTHER = code(100)


def _world(app: Registry, **params: Any) -> World:
    w = exchange_world(app, **params)
    app.register_enterprise(credit_code=OTHER, name="Dongguan Dyeing 1", sector="TEXTILE_DYEING",
                            prefecture="DONGGUAN", basin="MAOZHOU", direct_discharger=True,
                            at=AT)
    app.exchange.deposit(enterprise=OTHER, amount=100_000_000, reference="DEP-OTHER",
                         administrator="admin-cash", at=AT)
    for who in (w.paper, OTHER):
        ensure_right(app, who, "COD")
    return w


def _settlements(app: Registry, since: int) -> list[Any]:
    return [e for _, e in stored_events(app, start=since + 1)
            if type(e).__name__ == "SettledOnExchange"]


def test_a_batch_amends_each_partys_right_once_naming_every_trade(factory: Factory) -> None:
    app = factory()
    w = _world(app)
    before = app.queries.position()
    seller_right = app.rights.confirmed_right(w.dyeing, "COD").quantity
    outcomes = app.exchange.submit_orders(instrument=COD, at=AT, requests=[
        Order("s-1", w.dyeing, "S", "L", PRICE, 6_000, "d"),
        Order("b-1", w.paper, "B", "L", PRICE, 2_000, "p"),
        Order("b-2", OTHER, "B", "L", PRICE, 3_000, "q"),
        Order("b-3", w.paper, "B", "L", PRICE, 1_000, "p"),
    ])
    assert [o.status for o in outcomes] == ["accepted"] * 4
    assert app.rights.confirmed_right(w.dyeing, "COD").quantity == seller_right - 6_000
    assert app.rights.confirmed_right(w.paper, "COD").quantity == GENEROUS_RIGHT + 3_000
    assert app.rights.confirmed_right(OTHER, "COD").quantity == GENEROUS_RIGHT + 3_000
    events = _settlements(app, before)
    # one change per enterprise in the batch, however many trades it had
    by_right = {e.originator_id: e for e in events}
    assert len(events) == len(by_right) == 3
    seller = by_right[ConfirmedRight.create_id(w.dyeing, "COD")]
    assert (seller.sold, seller.bought, seller.ref) == (6_000, 0, f"{COD}#batch1")
    assert (len(seller.sales), seller.purchases) == (3, [])
    # the trades it names are the batch's settled transfers, which give parties and quantity
    settled = next(e for _, e in stored_events(app, start=before + 1)
                   if type(e).__name__ == "BatchSettled")
    steps = {s[4]: s for s in settled.steps if s[0] == "transfer"}
    assert set(seller.sales) == set(steps)
    assert sorted(steps[t][3] for t in seller.sales) == [1_000, 2_000, 3_000]
    paper = by_right[ConfirmedRight.create_id(w.paper, "COD")]
    assert (paper.sold, paper.bought, paper.sales) == (0, 3_000, [])
    assert {steps[t][2] for t in paper.purchases} == {w.paper}
    # the rights were written in the batch's one save: same position range, nothing after
    positions = [p for p, _ in stored_events(app, start=before + 1)]
    assert app.queries.position() == positions[-1]


def test_an_enterprise_buying_and_selling_in_one_batch_changes_once(factory: Factory) -> None:
    app = factory()
    w = _world(app)
    app.exchange.submit_orders(instrument=COD, at=AT, requests=[
        Order("s-1", w.dyeing, "S", "L", PRICE, 2_000, "d"),
        Order("b-1", w.paper, "B", "L", PRICE, 2_000, "p")])
    before = app.queries.position()
    app.exchange.submit_orders(instrument=COD, at=AT, requests=[
        Order("s-2", w.paper, "S", "L", PRICE, 1_000, "p"),
        Order("b-2", OTHER, "B", "L", PRICE, 1_000, "q"),
        Order("s-3", w.dyeing, "S", "L", PRICE + 100, 3_000, "d"),
        Order("b-3", w.paper, "B", "L", PRICE + 100, 3_000, "p"),
    ])
    (paper,) = [e for e in _settlements(app, before)
                if e.originator_id == ConfirmedRight.create_id(w.paper, "COD")]
    assert (paper.sold, paper.bought) == (1_000, 3_000)
    assert app.rights.confirmed_right(w.paper, "COD").quantity == GENEROUS_RIGHT + 2_000 + 2_000


def test_an_approved_trade_amends_the_rights_at_approval(factory: Factory) -> None:
    app = factory()
    w = _world(app, verify_above=1)  # every trade waits for an administrator
    app.exchange.submit_orders(instrument=COD, at=AT, requests=[
        Order("s-1", w.dyeing, "S", "L", PRICE, 2_000, "d"),
        Order("b-1", w.paper, "B", "L", PRICE, 2_000, "p")])
    # held, not settled
    assert app.rights.confirmed_right(w.paper, "COD").quantity == GENEROUS_RIGHT
    (trade,) = app.exchange.verification_queue()
    before = app.queries.position()
    app.exchange.approve_trade(instrument=COD, trade_id=trade["trade"], administrator="admin-2",
                               at=AT)
    assert app.rights.confirmed_right(w.paper, "COD").quantity == GENEROUS_RIGHT + 2_000
    refs = {e.ref for e in _settlements(app, before)}
    assert refs == {trade["trade"]}


def test_agreements_and_auctions_amend_both_rights(factory: Factory) -> None:
    app = factory()
    w = _world(app)
    dyeing = app.rights.confirmed_right(w.dyeing, "COD").quantity
    app.exchange_modes.offer_agreement(reference="AG-1", instrument=COD, seller=w.dyeing,
                                       buyer=w.paper, price=PRICE, qty=2_000, offered_by="admin-5",
                                       at=AT)
    app.exchange_modes.accept_agreement(reference="AG-1", buyer=w.paper, accepted_by="paper-cfo",
                                        at=AT)
    before = app.queries.position()
    app.exchange_modes.verify_agreement(reference="AG-1", administrator="admin-6", at=AT)
    assert {e.ref for e in _settlements(app, before)} == {"AG-1"}
    assert app.rights.confirmed_right(w.paper, "COD").quantity == GENEROUS_RIGHT + 2_000
    app.exchange_modes.open_auction(auction_id="AU-1", instrument=COD, seller=w.dyeing,
                                    volume=3_000, reserve_price=PRICE, min_bid=1_000, cap_pct=100,
                                    administrator="admin-1", at=AT)
    for n, (bidder, qty) in enumerate(((w.paper, 1_000), (OTHER, 1_000), (w.paper, 1_000))):
        app.exchange_modes.place_bid(auction_id="AU-1", bid_id=f"B{n}", bidder=bidder,
                                     price=PRICE + n, qty=qty, entered_by="trader", at=AT)
    before = app.queries.position()
    result = app.exchange_modes.clear_auction(auction_id="AU-1", administrator="admin-2", at=AT)
    assert result["sold"] == 3_000
    events = _settlements(app, before)
    assert {e.ref for e in events} == {"AU-1"} and len(events) == 3  # seller, two bidders
    assert app.rights.confirmed_right(w.dyeing, "COD").quantity == dyeing - 5_000
    assert app.rights.confirmed_right(w.paper, "COD").quantity == GENEROUS_RIGHT + 4_000
    assert app.rights.confirmed_right(OTHER, "COD").quantity == GENEROUS_RIGHT + 1_000


def test_the_annual_report_counts_exchange_trades_at_their_settlements(
        factory: Factory) -> None:
    app = factory()
    w = _world(app)
    app.exchange.submit_orders(instrument=COD, at=AT, requests=[
        Order("s-1", w.dyeing, "S", "L", PRICE, 2_000, "d"),
        Order("b-1", w.paper, "B", "L", PRICE, 2_000, "p")])
    events = dict(stored_events(app))
    for enterprise, figure in ((w.dyeing, "sold"), (w.paper, "bought")):
        report = enterprise_report_from(stored_events(app), enterprise, 2025)
        (row,) = [r for r in report["rows"] if r["kind"] == "COD"]
        assert row[figure]["amount"] == 2_000
        (position,) = row[figure]["positions"]
        assert type(events[position]).__name__ == "BatchSettled"  # its receipt's leaf
        # the right the report shows is the amended one, at the settlement's change
        assert row[
            "confirmed_right"]["amount"] == app.rights.confirmed_right(enterprise, "COD").quantity
        assert type(events[row["confirmed_right"]["positions"][-1]]).__name__ == \
            "SettledOnExchange"


def _shrink_sellers_right(app: Registry, seller: str) -> None:
    """A new permit below what the seller holds: its units can no longer all be sold."""
    app.rights.confirm_right(enterprise=seller, kind="COD", quantity=1_000, permit="PW-NEW",
                             valid_from="2025-01-01", valid_until="2029-12-31",
                             actor="admin-permits", at=AT)


def test_a_settlement_the_right_cannot_carry_is_refused_and_writes_nothing(
        factory: Factory) -> None:
    app = factory()
    w = _world(app)
    app.exchange_modes.offer_agreement(reference="AG-1", instrument=COD, seller=w.dyeing,
                                       buyer=w.paper, price=PRICE, qty=2_000, offered_by="admin-5",
                                       at=AT)
    app.exchange_modes.accept_agreement(reference="AG-1", buyer=w.paper, accepted_by="paper-cfo",
                                        at=AT)
    _shrink_sellers_right(app, w.dyeing)
    before = app.queries.position()
    with pytest.raises(InvalidState):
        app.exchange_modes.verify_agreement(reference="AG-1", administrator="admin-6", at=AT)
    assert app.queries.position() == before
    assert app.exchange_modes.agreement("AG-1").state == "accepted"
    assert app.instrument(COD).reserved_under("agreement:AG-1") == 2_000
    # on the book: the trade that would oversell the right is refused alone, with its error
    outcomes = app.exchange.submit_orders(instrument=COD, at=AT, requests=[
        Order("s-1", w.dyeing, "S", "L", PRICE, 2_000, "d"),
        Order("b-1", w.paper, "B", "L", PRICE, 2_000, "p")])
    assert [(o.status, o.error) for o in outcomes] == [("accepted", None),
                                                       ("rejected", "InvalidState")]
    assert app.rights.confirmed_right(w.dyeing, "COD").quantity == 1_000
    assert app.rights.confirmed_right(w.paper, "COD").quantity == GENEROUS_RIGHT
    assert not _settlements(app, before)
    # the agreement's only
    assert app.exchange.cash_account(w.paper).reserved == 2_000 * PRICE // 1_000


def test_a_settled_right_snapshots_and_reloads_equal(factory: Factory) -> None:
    app = factory()
    w = _world(app)
    app.exchange.submit_orders(instrument=COD, at=AT, requests=[
        Order("s-1", w.dyeing, "S", "L", PRICE, 2_000, "d"),
        Order("b-1", w.paper, "B", "L", PRICE, 2_000, "p")])
    right_id = ConfirmedRight.create_id(w.dyeing, "COD")
    if app.snapshots is None:
        pytest.skip("this store keeps no snapshots")
    app.take_snapshot(right_id)
    reloaded = app.repository.get(right_id)
    assert comparable(reloaded) == comparable(Fold().run(stored_events(app)).aggregates[right_id])

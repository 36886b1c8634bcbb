"""Agreement transfers and sealed-bid auctions, end to end on memory and SQLite."""

from __future__ import annotations

from pathlib import Path

import pytest

from domain.errors import (
    BidAboveCap,
    FourEyesViolation,
    InsufficientFunds,
    InvalidInput,
    InvalidState,
)
from registry.bootstrap import Registry, build_registry
from tests.support.world import AT, World, build_world, code, issue

COD = "COD-2025-MAOZHOU"


@pytest.fixture(params=["memory", "sqlite"])
def app(request: pytest.FixtureRequest, tmp_path: Path) -> Registry:
    env = ({"REGISTRY_STORE": "memory"} if request.param == "memory"
           else {"REGISTRY_DATA_DIR": str(tmp_path / "data")})
    return build_registry(env)


def world(app: Registry, extra_buyers: int = 0) -> tuple[World, list[str]]:
    w = build_world(app)
    issue(app, w, reference="RF-COD", enterprise=w.dyeing, kind="COD", baseline=100_000, post=0)
    buyers = [w.paper]
    for n in range(extra_buyers):
        c = code(100 + n)
        app.register_enterprise(credit_code=c, name=f"Dongguan Dyeing {n}",
                                sector="TEXTILE_DYEING", prefecture="DONGGUAN", basin="MAOZHOU",
                                direct_discharger=True, at=AT)
        buyers.append(c)
    for n, who in enumerate(buyers):
        app.exchange.deposit(enterprise=who, amount=50_000_000, reference=f"D{n}",
                             administrator="cash", at=AT)
    return w, buyers


def test_agreement_offer_accept_verify_settles_with_four_eyes(app: Registry) -> None:
    w, _ = world(app)
    app.exchange_modes.offer_agreement(reference="AG-1", instrument=COD, seller=w.dyeing,
                                       buyer=w.paper, price=750_000, qty=20_000,
                                       offered_by="admin-5", at=AT)
    assert app.instrument(COD).reserved_under("agreement:AG-1") == 20_000
    app.exchange_modes.accept_agreement(reference="AG-1", buyer=w.paper, accepted_by="paper-cfo",
                                        at=AT)
    assert app.exchange.cash_account(w.paper).reserved == 15_000_000
    with pytest.raises(FourEyesViolation):  # the administrator who keyed the offer in
        app.exchange_modes.verify_agreement(reference="AG-1", administrator="admin-5", at=AT)
    app.exchange_modes.verify_agreement(reference="AG-1", administrator="admin-6", at=AT)
    assert app.exchange_modes.agreement("AG-1").state == "settled"
    assert app.instrument(COD).balances()[w.paper] == {"available": 20_000}
    assert (app.exchange.cash_account(
        w.paper).balance, app.exchange.cash_account(w.paper).reserved) == (
        35_000_000, 0)
    assert app.exchange.cash_account(w.dyeing).balance == 15_000_000


def test_agreement_rejection_releases_units_and_cash(app: Registry) -> None:
    w, _ = world(app)
    app.exchange_modes.offer_agreement(reference="AG-2", instrument=COD, seller=w.dyeing,
                                       buyer=w.paper, price=750_000, qty=20_000,
                                       offered_by="dyeing-trader", at=AT)
    with pytest.raises(InvalidInput):
        app.exchange_modes.accept_agreement(reference="AG-2", buyer=w.electronics, accepted_by="x",
                                            at=AT)
    app.exchange_modes.accept_agreement(reference="AG-2", buyer=w.paper, accepted_by="paper-cfo",
                                        at=AT)
    app.exchange_modes.end_agreement(reference="AG-2", state="rejected", by="admin-1",
                                     reason="price", at=AT)
    assert app.instrument(COD).balances()[w.dyeing] == {"available": 100_000}
    assert app.exchange.cash_account(w.paper).reserved == 0
    with pytest.raises(InvalidState):
        app.exchange_modes.verify_agreement(reference="AG-2", administrator="admin-2", at=AT)


def test_agreement_needs_whole_fen_and_cash_to_accept(app: Registry) -> None:
    w, _ = world(app)
    with pytest.raises(InvalidInput):  # 1 kg at 1 fen/t is a thousandth of a fen
        app.exchange_modes.offer_agreement(reference="AG-3", instrument=COD, seller=w.dyeing,
                                           buyer=w.paper, price=1, qty=1, offered_by="d", at=AT)
    app.exchange_modes.offer_agreement(reference="AG-4", instrument=COD, seller=w.dyeing,
                                       buyer=w.paper, price=9_000_000, qty=90_000, offered_by="d",
                                       at=AT)
    with pytest.raises(InsufficientFunds):
        app.exchange_modes.accept_agreement(reference="AG-4", buyer=w.paper, accepted_by="p", at=AT)


def test_sealed_bid_auction_clears_at_a_uniform_price_with_a_bidder_cap(app: Registry) -> None:
    w, buyers = world(app, extra_buyers=2)
    a, b, c = buyers
    app.exchange_modes.open_auction(auction_id="AU-1", instrument=COD, seller=w.dyeing,
                                    volume=40_000, reserve_price=700_000, min_bid=5_000, cap_pct=50,
                                    administrator="admin-1", at=AT)
    with pytest.raises(BidAboveCap):  # refused at submission: it could never be allocated
        app.exchange_modes.place_bid(auction_id="AU-1", bid_id="x0", bidder=a, price=900_000,
                                     qty=30_000, entered_by="trader-x0", at=AT)
    assert app.exchange.cash_account(a).reserved == 0
    bids = [("x1", a, 900_000, 20_000), ("x2", b, 800_000, 10_000),
            ("x3", c, 800_000, 10_000), ("x4", b, 750_000, 10_000)]
    for bid_id, bidder, price, qty in bids:
        app.exchange_modes.place_bid(auction_id="AU-1", bid_id=bid_id, bidder=bidder, price=price,
                                     qty=qty, entered_by=f"trader-{bid_id}", at=AT)
    with pytest.raises(InvalidInput):  # below the minimum bid size
        app.exchange_modes.place_bid(auction_id="AU-1", bid_id="x5", bidder=c, price=900_000,
                                     qty=1_000, entered_by="t", at=AT)
    with pytest.raises(FourEyesViolation):
        app.exchange_modes.clear_auction(auction_id="AU-1", administrator="admin-1", at=AT)
    result = app.exchange_modes.clear_auction(auction_id="AU-1", administrator="admin-2", at=AT)
    # a has its cap of 50% (20,000); b's and c's 800,000 bids fill 10,000 each (b first in time)
    assert result["allocations"] == {"x1": 20_000, "x2": 10_000, "x3": 10_000}
    assert result["clearing_price"] == 800_000
    balances = app.instrument(COD).balances()
    assert [balances[x]["available"] for x in (a, b, c)] == [20_000, 10_000, 10_000]
    for who, bought in ((a, 20_000), (b, 10_000), (c, 10_000)):
        account = app.exchange.cash_account(who)
        assert (account.balance, account.reserved) == (50_000_000 - bought * 800, 0)
    assert app.exchange.cash_account(w.dyeing).balance == 40_000 * 800
    assert balances[w.dyeing] == {"available": 60_000}
    with pytest.raises(InvalidState):  # bids are irrevocable and the auction is over
        app.exchange_modes.place_bid(auction_id="AU-1", bid_id="late", bidder=c, price=900_000,
                                     qty=5_000, entered_by="t", at=AT)

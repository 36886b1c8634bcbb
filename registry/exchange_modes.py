"""Other trading modes: agreement transfers and sealed-bid auctions of reserve indicators.

Plain get → call → save commands (these are rare and not group-committed). Settlement uses the
Instrument's ordinary `transfer` from the reservation, which re-checks credit standing, the
trading-scope rules and validity, so a failed check refuses the settlement and changes nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from domain.errors import AlreadyExists, InvalidState, NotFound, RegistryError
from domain.exchange.agreement import ACCEPTED, Agreement
from domain.exchange.auction import BID_ID, BIDDER, PRICE, QTY, Auction
from domain.exchange.cash import CashAccount
from domain.exchange.money import value
from domain.exchange.params import MarketParams
from registry.app import command

if TYPE_CHECKING:
    from registry.app import RegistryBase as _Base
else:
    _Base = object


class TradingModeCommands(_Base):
    def _cash_or_open(self, owner: str, at: str) -> CashAccount:
        try:
            a: CashAccount = self._get(CashAccount, CashAccount.create_id(owner),
                                       f"cash account of {owner}")
        except NotFound:
            a = CashAccount.open(owner=owner, at=at)
        return a

    def _market_params(self, instrument: str) -> MarketParams | None:
        """The instrument's market parameters (None: no market is open for it), read from
        the exchange's writer, where the market is kept (a reload would re-match it)."""
        def read(w: Any) -> MarketParams | None:
            try:
                return self._market_in(w, instrument).market_params()  # type: ignore[attr-defined,no-any-return]
            except NotFound:
                return None

        result: MarketParams | None = self._with_writer(  # type: ignore[attr-defined]
            f"market {instrument}", read)
        return result

    # -- agreements ----------------------------------------------------------------------------

    def agreement(self, reference: str) -> Agreement:
        a: Agreement = self._get(Agreement, Agreement.create_id(reference),
                                 f"agreement {reference}")
        return a

    @command
    def offer_agreement(self, *, reference: str, instrument: str, seller: str, buyer: str,
                        price: int, qty: int, offered_by: str, at: str,
                        confirmed_by: str | None = None) -> Agreement:
        """Offer units out of ``seller``'s account: its representative's act, confirmed by a
        second representative while the seller requires one (`registry.representatives`)."""
        self.check_out_of_account(  # type: ignore[attr-defined]
            seller, by=offered_by, confirmed_by=confirmed_by)
        a, i = self.agreement_offer(reference=reference, instrument=instrument, seller=seller,
                                    buyer=buyer, price=price, qty=qty, offered_by=offered_by,
                                    at=at)
        self.save(a, i)
        return a

    def agreement_offer(self, *, reference: str, instrument: str, seller: str, buyer: str,
                        price: int, qty: int, offered_by: str, at: str,
                        ) -> tuple[Agreement, Any]:
        """The offer and the instrument holding its reservation, every check made, nothing
        saved (a request checks its offer with it before a second representative confirms)."""
        i = self.instrument(instrument)
        s, b = self.enterprise(seller), self.enterprise(buyer)
        if self._exists(Agreement.create_id(reference)):
            raise AlreadyExists(f"agreement {reference} already exists")
        b.check_may_trade()
        self.rules_for(i).check_transfer(i.kind, i.zone, s.party(), b.party())
        params = self._market_params(i.code)
        if params is not None:  # priced against the market's reference, if it has one
            params.check_agreement_price(price)
        a = Agreement.offer(reference=reference, instrument=i.code, seller=seller, buyer=buyer,
                            price=price, qty=qty, offered_by=offered_by, at=at)
        i.reserve(owner=s, quantity=qty, ref=a.reservation_ref, at=at)
        return a, i

    @command
    def accept_agreement(self, *, reference: str, buyer: str, accepted_by: str,
                         at: str) -> None:
        a = self.agreement(reference)
        self.enterprise(buyer).check_may_trade()
        a.accept(buyer=buyer, accepted_by=accepted_by, at=at)
        cash = self.cash_account(buyer)  # type: ignore[attr-defined]
        cash.post(ref=a.reservation_ref, reserved=a.amount, at=at)
        self.save(a, cash)

    @command
    def verify_agreement(self, *, reference: str, administrator: str, at: str) -> None:
        """Four eyes, then delivery-versus-payment in one save."""
        a = self.agreement(reference)
        a.check_verifier(administrator)
        i = self.instrument(a.instrument)
        rules = self.rules_for(i)
        i.transfer(seller=self.enterprise(a.seller), buyer=self.enterprise(a.buyer),
                   quantity=a.qty, rules=rules, ref=a.reservation_ref, at=at,
                   from_reservation=a.reservation_ref)
        pay, get = self.cash_account(a.buyer), self._cash_or_open(a.seller, at)  # type: ignore[attr-defined]
        pay.post(ref=a.reservation_ref, paid=a.amount, at=at)
        get.post(ref=a.reservation_ref, received=a.amount, at=at)
        a.settle(administrator=administrator, rule_version=rules.version, at=at)
        self.save(a, i, pay, get)

    @command
    def end_agreement(self, *, reference: str, state: str, by: str, reason: str,
                      at: str) -> None:
        """``state`` 'withdrawn' (seller, before acceptance) or 'rejected' (buyer declining,
        or an administrator); every reservation is released."""
        a = self.agreement(reference)
        i = self.instrument(a.instrument)
        was = a.end(state=state, by=by, reason=reason, at=at)
        i.release(ref=a.reservation_ref, at=at)
        changed: list[Any] = [a, i]
        if was == ACCEPTED:
            cash = self.cash_account(a.buyer)  # type: ignore[attr-defined]
            cash.post(ref=a.reservation_ref, released=a.amount, at=at)
            changed.append(cash)
        self.save(*changed)

    # -- auctions ------------------------------------------------------------------------------

    def auction(self, auction_id: str) -> Auction:
        x: Auction = self._get(Auction, Auction.create_id(auction_id), f"auction {auction_id}")
        return x

    @command
    def open_auction(self, *, auction_id: str, instrument: str, seller: str, volume: int,
                     reserve_price: int, min_bid: int, administrator: str, at: str,
                     cap_pct: int = 50, tick: int = 1, lot: int = 1000) -> Auction:
        i = self.instrument(instrument)
        s = self.enterprise(seller)
        if self._exists(Auction.create_id(auction_id)):
            raise AlreadyExists(f"auction {auction_id} already exists")
        x = Auction.open(auction_id=auction_id, instrument=i.code, seller=seller, volume=volume,
                         reserve_price=reserve_price, min_bid=min_bid, cap_pct=cap_pct,
                         tick=tick, lot=lot, administrator=administrator, at=at)
        i.reserve(owner=s, quantity=volume, ref=x.reservation_ref, at=at)
        self.save(x, i)
        return x

    @command
    def place_bid(self, *, auction_id: str, bid_id: str, bidder: str, price: int, qty: int,
                  entered_by: str, at: str) -> int:
        """A sealed, irrevocable bid; its full value is reserved. Returns the fen reserved."""
        x = self.auction(auction_id)
        i = self.instrument(x.instrument)
        b = self.enterprise(bidder)
        b.check_may_trade()
        self.rules_for(i).check_transfer(i.kind, i.zone, self.enterprise(x.seller).party(),
                                            b.party())
        amount = x.bid(bid_id=bid_id, bidder=bidder, price=price, qty=qty,
                       entered_by=entered_by, at=at)
        cash = self.cash_account(bidder)  # type: ignore[attr-defined]
        cash.post(ref=f"{x.reservation_ref}/{bid_id}", reserved=amount, at=at)
        self.save(x, cash)
        return amount

    @command
    def clear_auction(self, *, auction_id: str, administrator: str, at: str) -> dict[str, Any]:
        """Uniform-price clearing and DvP for every winner in one save. Bidders that no longer
        pass the credit or zone checks are excluded (recorded, their cash released)."""
        x = self.auction(auction_id)
        if x.state != "open":
            raise InvalidState(f"auction {auction_id} is {x.state}")
        i = self.instrument(x.instrument)
        rules = self.rules_for(i)
        seller = self.enterprise(x.seller)
        excluded: dict[str, str] = {}
        bidders = {b[BIDDER]: self.enterprise(b[BIDDER]) for b in x.bids}
        for code, e in sorted(bidders.items()):
            try:
                e.check_may_trade()
                rules.check_transfer(i.kind, i.zone, seller.party(), e.party())
            except RegistryError as exc:
                excluded[code] = type(exc).__name__
        result = x.clear(administrator=administrator, excluded=excluded,
                         rule_version=rules.version, at=at)
        price, allocations = result["clearing_price"], result["allocations"]
        accounts: dict[str, CashAccount] = {}
        for bid in x.bids:
            code = bid[BIDDER]
            cash = accounts.get(code) or accounts.setdefault(code, self.cash_account(code))  # type: ignore[attr-defined]
            got = allocations.get(bid[BID_ID], 0)
            reserved = value(bid[PRICE], bid[QTY])
            paid = value(price, got) if got else 0
            cash.post(ref=f"{x.reservation_ref}/{bid[BID_ID]}", paid=paid,
                      released=reserved - paid, at=at)
            if got:
                i.transfer(seller=seller, buyer=bidders[code], quantity=got, rules=rules,
                           ref=f"{x.reservation_ref}/{bid[BID_ID]}", at=at,
                           from_reservation=x.reservation_ref)
        proceeds = value(price, result["sold"]) if result["sold"] else 0
        changed: list[Any] = [x, i, *accounts.values()]
        if proceeds:
            get = self._cash_or_open(x.seller, at)
            get.post(ref=x.reservation_ref, received=proceeds, at=at)
            changed.append(get)
        if x.volume > result["sold"]:
            i.release(ref=x.reservation_ref, at=at)
        self.save(*changed)
        return result

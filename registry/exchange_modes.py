"""Other trading modes: agreement transfers and sealed-bid auctions of reserve indicators.

Plain get → call → save commands (these are rare and not group-committed). Settlement uses the
Instrument's ordinary `transfer` from the reservation, which re-checks credit standing, the
trading-scope rules and validity, so a failed check refuses the settlement and changes nothing;
both parties' confirmed rights are amended in the same save (`registry.rights`).
"""

from __future__ import annotations

from typing import Any

from domain.errors import AlreadyExists, InvalidState, NotFound, RegistryError
from domain.exchange.agreement import ACCEPTED, Agreement
from domain.exchange.auction import BID_ID, BIDDER, PRICE, QTY, Auction
from domain.exchange.cash import CashAccount
from domain.exchange.money import value
from domain.exchange.params import MarketParams
from registry.app import RegistryBase, command
from registry.exchange import ExchangeService
from registry.exchange_writes import ExchangeWrites
from registry.representatives import RepresentativeService
from registry.rights import RightsService


class ExchangeModes:
    """The exchange's other trading modes: bilateral agreements and auctions."""

    def __init__(self, core: RegistryBase, *, exchange_writes: ExchangeWrites,
                 exchange: ExchangeService, rights: RightsService,
                 representatives: RepresentativeService) -> None:
        self.core = core
        self.exchange_writes = exchange_writes
        self.exchange = exchange
        self.rights = rights
        self.representatives = representatives

    def _cash_or_open(self, owner: str, at: str) -> CashAccount:
        try:
            a: CashAccount = self.core.load(CashAccount, CashAccount.create_id(owner),
                                            f"cash account of {owner}")
        except NotFound:
            a = CashAccount.open(owner=owner, at=at)
        return a

    def _market_params(self, instrument: str) -> MarketParams | None:
        """The instrument's market parameters (None: no market is open for it), read from
        the exchange's writer, where the market is kept (a reload would re-match it)."""
        def read(w: Any) -> MarketParams | None:
            try:
                return self.exchange_writes.market_in(w, instrument).market_params()
            except NotFound:
                return None

        result: MarketParams | None = self.exchange_writes.with_writer(
            f"market {instrument}", read)
        return result

    # -- agreements ----------------------------------------------------------------------------

    def agreement(self, reference: str) -> Agreement:
        a: Agreement = self.core.load(Agreement, Agreement.create_id(reference),
                                      f"agreement {reference}")
        return a

    @command
    def offer_agreement(self, *, reference: str, instrument: str, seller: str, buyer: str,
                        price: int, qty: int, offered_by: str, at: str,
                        confirmed_by: str | None = None) -> Agreement:
        """Offer units out of ``seller``'s account: its representative's act, confirmed by a
        second representative while the seller requires one (`registry.representatives`)."""
        self.representatives.check_out_of_account(
            seller, by=offered_by, confirmed_by=confirmed_by)
        a, i = self.agreement_offer(reference=reference, instrument=instrument, seller=seller,
                                    buyer=buyer, price=price, qty=qty, offered_by=offered_by,
                                    at=at)
        self.core.save(a, i)
        return a

    def agreement_offer(self, *, reference: str, instrument: str, seller: str, buyer: str,
                        price: int, qty: int, offered_by: str, at: str,
                        ) -> tuple[Agreement, Any]:
        """The offer and the instrument holding its reservation, every check made, nothing
        saved (a request checks its offer with it before a second representative confirms)."""
        i = self.core.instrument(instrument)
        s, b = self.core.enterprise(seller), self.core.enterprise(buyer)
        if self.core.exists(Agreement.create_id(reference)):
            raise AlreadyExists(f"agreement {reference} already exists")
        b.check_may_trade()
        self.core.rules_for(i).check_transfer(i.kind, i.zone, s.party(), b.party())
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
        self.core.enterprise(buyer).check_may_trade()
        a.accept(buyer=buyer, accepted_by=accepted_by, at=at)
        cash = self.exchange.cash_account(buyer)
        cash.post(ref=a.reservation_ref, reserved=a.amount, at=at)
        self.core.save(a, cash)

    @command
    def verify_agreement(self, *, reference: str, administrator: str, at: str) -> None:
        """Four eyes, then delivery-versus-payment in one save."""
        a = self.agreement(reference)
        a.check_verifier(administrator)
        i = self.core.instrument(a.instrument)
        rules = self.core.rules_for(i)
        i.transfer(seller=self.core.enterprise(a.seller), buyer=self.core.enterprise(a.buyer),
                   quantity=a.qty, rules=rules, ref=a.reservation_ref, at=at,
                   from_reservation=a.reservation_ref)
        pay, get = self.exchange.cash_account(a.buyer), self._cash_or_open(a.seller, at)
        pay.post(ref=a.reservation_ref, paid=a.amount, at=at)
        get.post(ref=a.reservation_ref, received=a.amount, at=at)
        a.settle(administrator=administrator, rule_version=rules.version, at=at)
        rights = self.rights.rights_for_settlement(
            kind=i.kind, transfers=[(a.seller, a.buyer, a.qty, reference)], ref=reference,
            at=at)
        self.core.save(a, *rights, i, pay, get)

    @command
    def end_agreement(self, *, reference: str, state: str, by: str, reason: str,
                      at: str) -> None:
        """``state`` 'withdrawn' (seller, before acceptance) or 'rejected' (buyer declining,
        or an administrator); every reservation is released."""
        a = self.agreement(reference)
        i = self.core.instrument(a.instrument)
        was = a.end(state=state, by=by, reason=reason, at=at)
        i.release(ref=a.reservation_ref, at=at)
        changed: list[Any] = [a, i]
        if was == ACCEPTED:
            cash = self.exchange.cash_account(a.buyer)
            cash.post(ref=a.reservation_ref, released=a.amount, at=at)
            changed.append(cash)
        self.core.save(*changed)

    # -- auctions ------------------------------------------------------------------------------

    def auction(self, auction_id: str) -> Auction:
        x: Auction = self.core.load(Auction, Auction.create_id(auction_id), f"auction {auction_id}")
        return x

    @command
    def open_auction(self, *, auction_id: str, instrument: str, seller: str, volume: int,
                     reserve_price: int, min_bid: int, administrator: str, at: str,
                     cap_pct: int = 50, tick: int = 1, lot: int = 1000) -> Auction:
        i = self.core.instrument(instrument)
        s = self.core.enterprise(seller)
        if self.core.exists(Auction.create_id(auction_id)):
            raise AlreadyExists(f"auction {auction_id} already exists")
        x = Auction.open(auction_id=auction_id, instrument=i.code, seller=seller, volume=volume,
                         reserve_price=reserve_price, min_bid=min_bid, cap_pct=cap_pct,
                         tick=tick, lot=lot, administrator=administrator, at=at)
        i.reserve(owner=s, quantity=volume, ref=x.reservation_ref, at=at)
        self.core.save(x, i)
        return x

    @command
    def place_bid(self, *, auction_id: str, bid_id: str, bidder: str, price: int, qty: int,
                  entered_by: str, at: str) -> int:
        """A sealed, irrevocable bid; its full value is reserved. Returns the fen reserved."""
        x = self.auction(auction_id)
        i = self.core.instrument(x.instrument)
        b = self.core.enterprise(bidder)
        b.check_may_trade()
        self.core.rules_for(i).check_transfer(i.kind, i.zone,
                                              self.core.enterprise(x.seller).party(), b.party())
        amount = x.bid(bid_id=bid_id, bidder=bidder, price=price, qty=qty,
                       entered_by=entered_by, at=at)
        cash = self.exchange.cash_account(bidder)
        cash.post(ref=f"{x.reservation_ref}/{bid_id}", reserved=amount, at=at)
        self.core.save(x, cash)
        return amount

    @command
    def clear_auction(self, *, auction_id: str, administrator: str, at: str) -> dict[str, Any]:
        """Uniform-price clearing and DvP for every winner in one save. Bidders that no longer
        pass the credit or zone checks are excluded (recorded, their cash released)."""
        x = self.auction(auction_id)
        if x.state != "open":
            raise InvalidState(f"auction {auction_id} is {x.state}")
        i = self.core.instrument(x.instrument)
        rules = self.core.rules_for(i)
        seller = self.core.enterprise(x.seller)
        excluded: dict[str, str] = {}
        bidders = {b[BIDDER]: self.core.enterprise(b[BIDDER]) for b in x.bids}
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
        transfers = []
        for bid in x.bids:
            code = bid[BIDDER]
            cash = accounts.get(code) or accounts.setdefault(code,
                                                             self.exchange.cash_account(code))
            got = allocations.get(bid[BID_ID], 0)
            reserved = value(bid[PRICE], bid[QTY])
            paid = value(price, got) if got else 0
            cash.post(ref=f"{x.reservation_ref}/{bid[BID_ID]}", paid=paid,
                      released=reserved - paid, at=at)
            if got:
                i.transfer(seller=seller, buyer=bidders[code], quantity=got, rules=rules,
                           ref=f"{x.reservation_ref}/{bid[BID_ID]}", at=at,
                           from_reservation=x.reservation_ref)
                transfers.append((x.seller, code, got, f"{auction_id}/{bid[BID_ID]}"))
        proceeds = value(price, result["sold"]) if result["sold"] else 0
        rights = self.rights.rights_for_settlement(
            kind=i.kind, transfers=transfers, ref=auction_id, at=at)
        changed: list[Any] = [x, *rights, i, *accounts.values()]
        if proceeds:
            get = self._cash_or_open(x.seller, at)
            get.post(ref=x.reservation_ref, received=proceeds, at=at)
            changed.append(get)
        if x.volume > result["sold"]:
            i.release(ref=x.reservation_ref, at=at)
        self.core.save(*changed)
        return result

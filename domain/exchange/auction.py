"""Sealed-bid auctions of reserve indicators with a uniform clearing price.

An administrator opens an auction of a holder's units (the reserve); the units are reserved
under ``auction:<id>``. Bids are sealed (nothing about them is shown before clearing) and
irrevocable: there is no cancel. Each bid reserves its full cash value (price × quantity / 1000).
A bid must be at least the minimum bid size, whole lots, on the tick, at or above the reserve
price.

Clearing (`allocate`): bids in price priority, then time priority (earlier bid first) at equal
price. Each bid gets as much as is left, limited by its bidder's cap (``cap_pct`` of the volume,
rounded down to whole lots, over all of the bidder's bids), rounded down to whole lots. Every
winner pays the same price: the lowest price among bids that received anything. Unallocated
cash and units are released. Four eyes: the administrator clearing must not be the one who
opened the auction.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.errors import BidAboveCap, FourEyesViolation, InvalidInput, InvalidState
from domain.exchange.money import check_exact, check_lot, value
from domain.topics import aggregate_topic, event_topic, natural_id

OPEN, CLEARED, VOIDED = "open", "cleared", "voided"
# bid record: bid_id, bidder, price, qty, entered_by
BID_ID, BIDDER, PRICE, QTY, ENTERED_BY = range(5)


def allocate(bids: list[list[Any]], volume: int, cap: int, lot: int) -> tuple[int | None,
                                                                            dict[str, int]]:
    """``(clearing price or None, bid_id -> allocated qty)`` as the module describes."""
    ranked = sorted(enumerate(bids), key=lambda ib: (-ib[1][PRICE], ib[0]))
    left = volume
    per_bidder: dict[str, int] = {}
    out: dict[str, int] = {}
    clearing: int | None = None
    for _, b in ranked:
        if left < lot:
            break
        room = cap - per_bidder.get(b[BIDDER], 0)
        take = min(b[QTY], room, left) // lot * lot
        if take <= 0:
            continue
        out[b[BID_ID]] = take
        per_bidder[b[BIDDER]] = per_bidder.get(b[BIDDER], 0) + take
        left -= take
        clearing = b[PRICE]
    return clearing, out


class Auction(Aggregate):
    TOPIC = aggregate_topic("Auction")

    class Created(Aggregate.Created):
        TOPIC = event_topic("Auction", "Created")

    @staticmethod
    def create_id(auction_id: str, **_: Any) -> UUID:
        return natural_id(f"/auctions/{auction_id}")

    @classmethod
    def open(cls, *, auction_id: str, instrument: str, seller: str, volume: int,
             reserve_price: int, min_bid: int, cap_pct: int = 50, tick: int = 1,
             lot: int = 1000, administrator: str, at: str) -> Auction:
        check_exact(tick, lot)
        check_lot(volume, lot, "volume")
        check_lot(min_bid, lot, "minimum bid")
        if type(cap_pct) is not int or not 0 < cap_pct <= 100:
            raise InvalidInput("cap_pct is an integer percentage in (0, 100]")
        if type(reserve_price) is not int or reserve_price <= 0 or reserve_price % tick:
            raise InvalidInput("the reserve price is a positive multiple of the tick")
        if not auction_id.strip() or not administrator.strip():
            raise InvalidInput("an auction needs an id and the administrator opening it")
        cap = volume * cap_pct // 100 // lot * lot
        if cap < min_bid:
            raise InvalidInput(f"the per-bidder cap {cap} kg is below the minimum bid")
        return cls(auction_id=auction_id, instrument=instrument, seller=seller, volume=volume,
                   reserve_price=reserve_price, min_bid=min_bid, cap_pct=cap_pct, cap=cap,
                   tick=tick, lot=lot, administrator=administrator, at=at)

    @event("Opened", topic=event_topic("Auction", "Opened"))
    def __init__(self, auction_id: str, instrument: str, seller: str, volume: int,
                 reserve_price: int, min_bid: int, cap_pct: int, cap: int, tick: int, lot: int,
                 administrator: str, at: str) -> None:
        self.auction_id, self.instrument, self.seller = auction_id, instrument, seller
        self.volume, self.reserve_price, self.min_bid = volume, reserve_price, min_bid
        self.cap_pct, self.cap, self.tick, self.lot = cap_pct, cap, tick, lot
        self.opened_by = administrator
        self.state = OPEN
        self.bids: list[list[Any]] = []
        self.result: dict[str, Any] | None = None
        self.cancelled: list[list[Any]] = []  # bids withdrawn by a lifecycle change

    @property
    def reservation_ref(self) -> str:
        return f"auction:{self.auction_id}"

    def bid(self, *, bid_id: str, bidder: str, price: int, qty: int, entered_by: str,
            at: str) -> int:
        """Place a sealed, irrevocable bid; returns the cash (fen) it reserves."""
        if self.state != OPEN:
            raise InvalidState(f"auction {self.auction_id} is {self.state}")
        if not bid_id.strip() or any(b[BID_ID] == bid_id for b in [*self.bids,
                                                                    *self.cancelled]):
            raise InvalidInput(f"bid id {bid_id!r} is empty or already used")
        if bidder == self.seller:
            raise InvalidInput("the seller may not bid in its own auction")
        check_lot(qty, self.lot)
        if qty < self.min_bid:
            raise InvalidInput(f"a bid is at least {self.min_bid} kg")
        if type(price) is not int or price < self.reserve_price or price % self.tick:
            raise InvalidInput(f"a bid is a multiple of {self.tick} fen/t at or above the "
                               f"reserve price {self.reserve_price}")
        already = sum(b[QTY] for b in self.bids if b[BIDDER] == bidder)
        if already + qty > self.cap:
            # refused now rather than accepted, locking cash, and allocated nothing later
            raise BidAboveCap(f"{bidder}'s bids would total {already + qty} kg, above the "
                              f"per-bidder cap of {self.cap} kg")
        self._bid_placed(bid_id=bid_id, bidder=bidder, price=price, qty=qty,
                         entered_by=entered_by, at=at)
        return value(price, qty)

    @event("BidPlaced", topic=event_topic("Auction", "BidPlaced"))
    def _bid_placed(self, bid_id: str, bidder: str, price: int, qty: int, entered_by: str,
                    at: str) -> None:
        self.bids.append([bid_id, bidder, price, qty, entered_by])

    def live_bids(self, bidder: str | None = None) -> list[list[Any]]:
        """Bids still standing (all while open; none once cleared or voided)."""
        if self.state != OPEN:
            return []
        return [b for b in self.bids if bidder is None or b[BIDDER] == bidder]

    def void(self, *, reason: str, by: str, at: str) -> list[list[Any]]:
        """End the auction without a sale (an administrator's decision, or a lifecycle change
        took the units or the seller's standing); returns the bids whose cash to release."""
        if self.state != OPEN:
            raise InvalidState(f"auction {self.auction_id} is {self.state}")
        if not reason.strip() or not by.strip():
            raise InvalidInput("voiding an auction needs who and why")
        bids = [list(b) for b in self.bids]
        self._voided(reason=reason, by=by, at=at)
        return bids

    @event("Voided", topic=event_topic("Auction", "Voided"))
    def _voided(self, reason: str, by: str, at: str) -> None:
        self.state = VOIDED
        self.result = {"voided": True, "reason": reason, "by": by, "sold": 0}

    def cancel_bids(self, *, bidder: str, reason: str, by: str, at: str) -> list[list[Any]]:
        """Withdraw every bid of ``bidder`` (its credit record now bars it); returns them."""
        bids = [list(b) for b in self.live_bids(bidder)]
        if not reason.strip() or not by.strip():
            raise InvalidInput("cancelling bids needs who and why")
        if bids:
            self._bids_cancelled(bid_ids=[b[BID_ID] for b in bids], reason=reason, by=by,
                                 at=at)
        return bids

    @event("BidsCancelled", topic=event_topic("Auction", "BidsCancelled"))
    def _bids_cancelled(self, bid_ids: list[str], reason: str, by: str, at: str) -> None:
        gone = set(bid_ids)
        self.cancelled += [b for b in self.bids if b[BID_ID] in gone]
        self.bids = [b for b in self.bids if b[BID_ID] not in gone]

    def clear(self, *, administrator: str, excluded: dict[str, str], rule_version: str,
              at: str) -> dict[str, Any]:
        """Allocate (bids of ``excluded`` bidders, bidder -> reason, take no part) and record
        the result; returns it."""
        if self.state != OPEN:
            raise InvalidState(f"auction {self.auction_id} is {self.state}")
        if not administrator.strip():
            raise InvalidInput("clearing needs the administrator's id")
        if administrator == self.opened_by:
            raise FourEyesViolation(f"{administrator} opened auction {self.auction_id} and "
                                    "may not clear it")
        eligible = [b for b in self.bids if b[BIDDER] not in excluded]
        price, allocations = allocate(eligible, self.volume, self.cap, self.lot)
        self._cleared(administrator=administrator, clearing_price=price,
                      allocations=allocations, excluded=excluded, rule_version=rule_version,
                      at=at)
        return dict(self.result or {})

    @event("Cleared", topic=event_topic("Auction", "Cleared"))
    def _cleared(self, administrator: str, clearing_price: int | None,
                 allocations: dict[str, int], excluded: dict[str, str], rule_version: str,
                 at: str) -> None:
        self.state = CLEARED
        self.result = {"clearing_price": clearing_price, "allocations": allocations,
                       "excluded": excluded, "sold": sum(allocations.values()),
                       "cleared_by": administrator}

"""Sealed-bid auctions of reserve indicators, cleared at one uniform price.

An administrator opens an auction of a holder's units (reserved at once). Bids are sealed and
irrevocable (there is no way to withdraw one): a bidder sees its own bids only, and nobody sees
anyone else's until clearing, when administrators and auditors see every bid and allocation and
a bidder its own. Each bid reserves its full value. Clearing (another administrator than the
one who opened it) allocates in price then time priority, at most ``cap`` kg per bidder, and
every winner pays the lowest winning price; unallocated cash and units are released.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, status

from api.auth import CurrentUser
from api.deps import (
    Administrator,
    Page,
    PageDep,
    RegistryDep,
    StateDep,
    acting_for,
    not_found,
    now,
    paginate,
)
from api.errors import ApiError
from api.ledger_refs import with_ledger
from api.schemas.auctions import (
    ID,
    Auction,
    AuctionOpen,
    AuctionRecorded,
    AuctionVoid,
    Bid,
    BidIn,
    BidRecorded,
    Result,
)
from api.schemas.trades import Receipt
from api.tokens import Principal
from domain.errors import NotFound
from domain.exchange.auction import BID_ID, BIDDER, ENTERED_BY, PRICE, QTY
from domain.exchange.auction import Auction as AuctionAggregate
from domain.exchange.money import value
from registry.bootstrap import Registry

router = APIRouter(prefix="/auctions", tags=["auctions"])
AuctionPath = Annotated[str, Path(pattern=ID, max_length=64)]


def _privileged(user: Principal) -> bool:
    return user.role in ("administrator", "auditor")


def _out(x: AuctionAggregate, user: Principal) -> Auction:
    result = None
    if x.result is not None and not x.result.get("voided"):
        r = x.result
        result = Result(clearing_price=r["clearing_price"], sold=r["sold"],
                        cleared_by=r["cleared_by"],
                        excluded=r["excluded"] if _privileged(user) else {})
    return Auction(auction_id=x.auction_id, instrument=x.instrument, seller=x.seller,
                   volume=x.volume, reserve_price=x.reserve_price, min_bid=x.min_bid,
                   cap_pct=x.cap_pct, cap=x.cap, tick=x.tick, lot=x.lot,
                   state=x.state,  # type: ignore[arg-type]  # the aggregate's str is one of them
                   opened_by=x.opened_by, result=result)


def _auction(registry: Registry, auction_id: str) -> AuctionAggregate:
    try:
        return registry.exchange_modes.auction(auction_id)
    except NotFound:
        raise not_found(f"auction {auction_id}") from None


def _bids(x: AuctionAggregate, user: Principal) -> list[Bid]:
    """The bids the caller may see: its own; every bid for administrators and auditors."""
    allocations = x.result["allocations"] if x.result else None
    return [Bid(bid_id=b[BID_ID], bidder=b[BIDDER], price=b[PRICE], quantity=b[QTY],
                entered_by=b[ENTERED_BY], reserved=value(b[PRICE], b[QTY]),
                allocated=None if allocations is None else allocations.get(b[BID_ID], 0))
            for b in x.bids if _privileged(user) or b[BIDDER] == user.subject]


@router.post("", status_code=status.HTTP_201_CREATED)
def open_auction(body: AuctionOpen, user: Administrator, registry: RegistryDep,
                 state: StateDep) -> AuctionRecorded:
    """Open an auction of the seller's units (administrators); the volume is reserved."""
    fields: dict[str, Any] = body.model_dump()
    fields["auction_id"] = body.auction_id or f"AU-{uuid.uuid4().hex[:20]}"
    before = registry.queries.position()
    x = registry.exchange_modes.open_auction(administrator=user.actor, at=now(), **fields)
    return with_ledger(_out(x, user), state, before, subject_type="auction",
                       subject=fields["auction_id"], event="Opened", as_=AuctionRecorded)


@router.get("")
def list_auctions(user: CurrentUser, registry: RegistryDep, state: StateDep,
                  page: PageDep) -> Page[Auction]:
    """Every auction, newest first (bids stay sealed)."""
    data = state.market_view()
    with data.lock:
        ids = list(reversed(data.auctions))
    shown = ids[page.offset:page.offset + page.limit]
    return Page[Auction](items=[_out(registry.exchange_modes.auction(i), user) for i in shown],
                         offset=page.offset, limit=page.limit, total=len(ids))


@router.get("/{auction_id}")
def get_auction(auction_id: AuctionPath, user: CurrentUser, registry: RegistryDep) -> Auction:
    return _out(_auction(registry, auction_id), user)


@router.post("/{auction_id}/bids", status_code=status.HTTP_201_CREATED)
def place_bid(auction_id: AuctionPath, body: BidIn, user: CurrentUser,
              registry: RegistryDep, state: StateDep) -> BidRecorded:
    """A sealed, irrevocable bid: its full value is reserved until clearing."""
    bidder = acting_for(user, body.bidder)
    bid_id = body.bid_id or uuid.uuid4().hex
    before = registry.queries.position()
    reserved = registry.exchange_modes.place_bid(auction_id=auction_id, bid_id=bid_id,
                                                 bidder=bidder, price=body.price, qty=body.quantity,
                                                 entered_by=user.actor, at=now())
    return with_ledger(Bid(bid_id=bid_id, bidder=bidder, price=body.price,
                           quantity=body.quantity, entered_by=user.actor, reserved=reserved,
                           allocated=None), state, before, subject_type="bid", subject=bid_id,
                       event="BidPlaced", as_=BidRecorded)


@router.get("/{auction_id}/bids")
def list_bids(auction_id: AuctionPath, user: CurrentUser, registry: RegistryDep,
              page: PageDep) -> Page[Bid]:
    """The caller's own bids (every bid for administrators and auditors), in bid order."""
    if user.role == "agency":
        raise ApiError(403, "forbidden", "this needs the role enterprise, administrator or "
                                         "auditor")
    return paginate(_bids(_auction(registry, auction_id), user), page)


@router.post("/{auction_id}/clear")
def clear(auction_id: AuctionPath, user: Administrator, registry: RegistryDep,
          state: StateDep) -> AuctionRecorded:
    """Clear at one uniform price and settle every winner delivery-versus-payment (an
    administrator other than the one who opened it)."""
    before = registry.queries.position()
    registry.exchange_modes.clear_auction(auction_id=auction_id, administrator=user.actor, at=now())
    return with_ledger(_out(registry.exchange_modes.auction(auction_id), user), state, before,
                       subject_type="auction", subject=auction_id, event="Cleared",
                       receipt=f"/auctions/{auction_id}/receipt", as_=AuctionRecorded)


@router.post("/{auction_id}/void")
def void(auction_id: AuctionPath, body: AuctionVoid, user: Administrator,
         registry: RegistryDep, state: StateDep) -> AuctionRecorded:
    """End an open auction without a sale (administrators): every bid's cash and the offered
    units are released in the same save; 409 once cleared or voided."""
    before = registry.queries.position()
    registry.lifecycle.void_auction(auction_id=auction_id, reason=body.reason,
                                    administrator=user.actor, at=now())
    return with_ledger(_out(registry.exchange_modes.auction(auction_id), user), state, before,
                       subject_type="auction", subject=auction_id, event="Voided",
                       as_=AuctionRecorded)


@router.get("/{auction_id}/receipt")
def receipt(auction_id: AuctionPath, user: CurrentUser, registry: RegistryDep,
            state: StateDep) -> Receipt:
    """The ledger receipt of the clearing (its seller, its bidders, administrators,
    auditors); 404 before clearing."""
    x = _auction(registry, auction_id)
    if not (_privileged(user) or user.subject == x.seller
            or any(b[BIDDER] == user.subject for b in x.bids)) or user.role == "agency":
        raise not_found(f"receipt of auction {auction_id}")
    data = state.market_view()
    with data.lock:
        position = data.auctions[auction_id]["events"].get("Cleared")
    if position is None:
        raise not_found(f"receipt of auction {auction_id}: it is not cleared yet")
    return Receipt(**state.receipt(position, subject_type="auction", subject=auction_id))

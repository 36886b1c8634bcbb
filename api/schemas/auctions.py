"""The request and response bodies of ``api.routes.auctions``."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import HANDLE_PATTERN
from api.schemas.ledger import LedgerRef
from api.schemas.markets import INSTRUMENT_PATTERN, CreditCode, Price, Quantity

ID = HANDLE_PATTERN


class AuctionOpen(BaseModel):
    model_config = ConfigDict(extra="forbid")
    auction_id: Annotated[str | None, Field(pattern=ID, description="generated if absent")] = None
    instrument: Annotated[str, Field(pattern=INSTRUMENT_PATTERN, max_length=60)]
    seller: CreditCode
    volume: Quantity
    reserve_price: Price
    min_bid: Quantity
    cap_pct: Annotated[int, Field(strict=True, gt=0, le=100,
                                  description="per-bidder cap, % of the volume")] = 50
    tick: Price = 1
    lot: Quantity = 1000


class AuctionVoid(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Annotated[str, Field(min_length=1, max_length=500)]


class BidIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    bid_id: Annotated[str | None, Field(pattern=ID, description="generated if absent")] = None
    price: Price
    quantity: Quantity
    bidder: CreditCode | None = Field(None, description="administrators: the bidder")


class Bid(BaseModel):
    """A sealed bid; ``allocated`` (kg) once the auction is cleared."""

    model_config = ConfigDict(extra="forbid")
    bid_id: str
    bidder: str
    price: int
    quantity: int
    entered_by: str
    reserved: int = Field(description="fen reserved when it was placed")
    allocated: int | None


class Result(BaseModel):
    model_config = ConfigDict(extra="forbid")
    clearing_price: int | None
    sold: int
    cleared_by: str
    excluded: dict[str, str] = Field(description="bidder -> why it was left out "
                                                 "(administrators and auditors)")


class Auction(BaseModel):
    model_config = ConfigDict(extra="forbid")
    auction_id: str
    instrument: str
    seller: str
    volume: int
    reserve_price: int
    min_bid: int
    cap_pct: int
    cap: int
    tick: int
    lot: int
    state: Literal["open", "cleared", "voided"]
    opened_by: str
    result: Result | None


class AuctionRecorded(Auction):
    """Auction as a write answers it: with where its event sits in the ledger."""

    ledger: LedgerRef | None = None  # where its event sits in the ledger, and its receipt


class BidRecorded(Bid):
    """A bid as placing it answers it: with where its event sits in the ledger."""

    ledger: LedgerRef | None = None  # its BidPlaced leaf, and its receipt

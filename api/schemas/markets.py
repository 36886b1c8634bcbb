"""Request and response models of markets, orders and market data.

Prices are integers of fen per tonne, quantities integers of kg (kgce), values integers of fen.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field, model_validator

from api.schemas.common import CreditCode
from api.schemas.ledger import LedgerRef

MAX_PRICE = 10**12  # fen per tonne: far above any real price, far below integer trouble
MAX_QTY = 10**13  # kg
INSTRUMENT_PATTERN = r"^[A-Z0-9_]{1,16}-[0-9]{4}-[A-Z0-9_]{1,40}$"
ID_PATTERN = r"^[A-Za-z0-9._:-]{1,64}$"

InstrumentPath = Annotated[str, Path(pattern=INSTRUMENT_PATTERN, max_length=60,
                                     examples=["COD-2025-MAOZHOU"])]
OrderIdPath = Annotated[str, Path(pattern=ID_PATTERN, max_length=64)]
# strict: a float or a numeric string is refused, never rounded
Price = Annotated[int, Field(strict=True, gt=0, le=MAX_PRICE, description="fen per tonne")]
Quantity = Annotated[int, Field(strict=True, gt=0, le=MAX_QTY, description="kg")]
Fen = Annotated[int, Field(strict=True, ge=0, le=10**15, description="fen")]
SessionTime = Annotated[str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]
IsoDate = Annotated[str, Field(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- markets -----------------------------------------------------------------------------------


class MarketOpen(_In):
    """Open the order book of an instrument (administrators)."""

    instrument: Annotated[str, Field(pattern=INSTRUMENT_PATTERN, max_length=60)]
    reference_price: Price
    tick: Price = 1
    band_pct: Annotated[int, Field(strict=True, gt=0, le=100)] = 10
    lot: Quantity = 1000
    min_lot: Quantity = 1000
    max_order: Quantity = 100_000_000
    verify_above: Fen | None = Field(None, description="trades worth more (fen) wait for an "
                                                       "administrator; null: never")
    agreement_band_pct: Annotated[int, Field(strict=True, ge=0, lt=100)] = 30
    sessions: list[Annotated[list[SessionTime], Field(min_length=2, max_length=2)]] | None = Field(
        None, max_length=8, description="[open, close] HH:MM pairs, China time, working days; "
        "absent: 09:30-11:30 and 13:00-15:00; []: continuous")
    holidays: list[IsoDate] = Field(default_factory=list, max_length=400)
    gtc_days: Annotated[int, Field(strict=True, ge=1, le=366)] = 30
    reference_rule: Literal["close", "vwap"] = "close"


class MarketHalt(_In):
    """Why a market halts or resumes (administrators)."""

    reason: Annotated[str, Field(min_length=1, max_length=500)]


class OrderAmend(_In):
    """A resting order's new remaining quantity and, optionally, a new limit price: less
    quantity at the same price keeps the order's place; a new price re-enters it at the
    back."""

    quantity: Quantity
    price: Price | None = None


class MarketParameters(_In):
    """A new reference price and/or verification threshold; an absent field is kept, a null
    ``verify_above`` switches verification off."""

    reference_price: Price | None = None
    verify_above: Fen | None = None


class Market(_Out):
    instrument: str
    kind: str
    zone: str
    reference_price: int
    tick: int
    band_pct: int
    lot: int
    min_lot: int
    max_order: int
    verify_above: int | None
    agreement_band_pct: int
    sessions: list[list[str]]
    holidays: list[str]
    gtc_days: int
    reference_rule: str
    lower_price: int
    upper_price: int
    best_bid: int | None
    best_ask: int | None
    last_price: int | None
    opened_at: str


class MarketRecorded(Market):
    """A market as halting or resuming it answers: with where its event sits in the ledger."""

    ledger: LedgerRef | None = None  # its Halted/Resumed leaf, and its receipt


class Level(_Out):
    price: int
    quantity: int
    orders: int


class Book(_Out):
    """Aggregated price levels, best first; no account is named."""

    instrument: str
    bids: list[Level]
    asks: list[Level]
    position: int = Field(description="event-log position the book reflects")


# -- orders ------------------------------------------------------------------------------------


class OrderIn(_In):
    order_id: Annotated[str | None, Field(pattern=ID_PATTERN,
                                          description="generated when absent")] = None
    side: Literal["buy", "sell"]
    kind: Literal["limit", "market"] = "limit"
    price: Price | None = Field(None, description="fen per tonne; required for limit orders, "
                                                  "ignored for market orders")
    quantity: Quantity
    account: CreditCode | None = Field(None, description="the enterprise; administrators "
                                                         "must name it, enterprises may omit it")
    time_in_force: Literal["day", "gtc"] = Field(
        "day", description="day: expires at the close; gtc: rests up to the market's gtc_days "
        "(limit orders)")

    @model_validator(mode="after")
    def _limit_needs_price(self) -> OrderIn:
        if self.kind == "limit" and self.price is None:
            raise ValueError("a limit order needs a price (fen per tonne)")
        return self


class Fill(_Out):
    trade: str
    price: int
    quantity: int
    state: Literal["settled", "pending"]
    ledger: LedgerRef | None = None  # the trade's leaf (its batch) and the trade's receipt


class OrderAck(_Out):
    """What an accepted order did: its fills (settled, or pending verification) and what is
    left resting in the book."""

    order_id: str
    instrument: str
    account: str
    status: Literal["accepted", "expired", "amended", "cancelled"]
    fills: list[Fill]
    filled: int
    resting: int
    ledger: LedgerRef | None = None  # the batch leaf recording this request (market subject)


MAX_BULK = 1000  # requests in one bulk entry: one save of the exchange's batch path


class BulkOrder(OrderIn):
    """An order of a bulk entry: the fields of a single order but the account, which the
    entry names once."""

    action: Literal["order"]
    account: None = Field(None, description="not here: the entry names the account")


class BulkCancel(_In):
    action: Literal["cancel"]
    order_id: Annotated[str, Field(pattern=ID_PATTERN)]


class BulkIn(_In):
    """Orders and cancels of ONE account on one market, matched in this order and stored in
    one save. A malformed entry (any item not of this shape, more than ``MAX_BULK`` items) is
    refused whole with 422 and nothing is stored; an item the exchange refuses (outside the
    band, not enough cash or units, no such order to cancel) is answered with its problem and
    the others proceed."""

    account: CreditCode | None = Field(None, description="the enterprise; administrators "
                                                         "must name it, enterprises may omit it")
    items: list[Annotated[BulkOrder | BulkCancel, Field(discriminator="action")]] = Field(
        min_length=1, max_length=MAX_BULK)


class ItemProblem(_Out):
    """Why an item was refused, as the single request's problem document would say."""

    type: str
    title: str
    status: int
    detail: str


class BulkItem(_Out):
    """One item's outcome, at its place in the entry: ``refused`` with its ``problem``, or
    what the order or cancel did (as the single request's acknowledgement)."""

    index: int
    action: Literal["order", "cancel"]
    order_id: str
    status: Literal["accepted", "expired", "cancelled", "refused"]
    fills: list[Fill] = []
    filled: int = 0
    resting: int = 0
    problem: ItemProblem | None = None


class BulkOut(_Out):
    instrument: str
    account: str
    accepted: int = Field(description="items that went in (orders accepted or expired, "
                                      "cancels done)")
    refused: int
    items: list[BulkItem]
    ledger: LedgerRef | None = None  # the batch leaf that recorded the entry (its receipt)


class Order(_Out):
    order_id: str
    instrument: str
    account: str
    side: Literal["buy", "sell"]
    kind: Literal["limit", "market"]
    price: int | None
    quantity: int
    filled: int
    resting: int
    status: Literal["open", "filled", "cancelled", "expired"]
    entered_by: str
    at: str


# -- market data -------------------------------------------------------------------------------


class PublicTrade(_Out):
    instrument: str
    trade: str
    price: int
    quantity: int
    state: Literal["settled", "pending", "rejected"]
    at: str


class Bar(_Out):
    """One OHLC bar: prices in fen per tonne, ``quantity`` kg, ``value`` fen."""

    period: str
    open: int
    high: int
    low: int
    close: int
    quantity: int
    value: int
    trades: int

"""Schemas of holdings: balances and blocks, transfers, holds, retirements, freezes, expiry."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import Field, field_validator

from api.schemas.common import Balance, Body, CreditCode, InstrumentCode, Out, Quantity, Ref, Text
from api.schemas.ledger import LedgerRef


class Block(Out):
    """A contiguous serial range with one owner, state, lot and reference."""

    first: int
    last: int
    serials: str
    state: str
    lot: str
    ref: str | None
    frozen: str | None


class Holding(Balance):
    blocks: list[Block]


class TransferCreate(Body):
    """A transfer from the path's enterprise to ``buyer``: of available units, or of units the
    seller set aside under its own hold ``from_reservation``."""

    instrument: InstrumentCode
    buyer: CreditCode
    quantity: Quantity
    ref: Ref
    from_reservation: Ref | None = None
    reason: Literal["merger", "court-order", "correction"] = Field(
        description="transfers outside the exchange are for these non-trade reasons only; "
                    "sales go through the order book, agreements or auctions")


class TransferPublic(Out):
    instrument: str
    seller: str
    buyer: str
    quantity: int
    ref: str
    rule_version: str
    position: int | None
    ledger: LedgerRef | None = None  # where its event sits in the ledger, and its receipt


class HoldCreate(Body):
    instrument: InstrumentCode
    quantity: Quantity
    ref: Ref


class HoldRelease(Body):
    """Release a hold: all of it unless ``quantity`` is given."""

    instrument: InstrumentCode
    ref: Ref
    quantity: Quantity | None = None


class HoldPublic(Out):
    instrument: str
    ref: str
    quantity: int


class HoldRecorded(HoldPublic):
    """A reservation or release as it answers: with where its event sits in the ledger."""

    ledger: LedgerRef | None = None  # its Reserved/Released leaf, and its receipt


class RetirementCreate(Body):
    instrument: InstrumentCode
    quantity: Quantity
    reason: Text


class RetirementPublic(Out):
    instrument: str
    owner: str
    quantity: int
    reason: str
    ledger: LedgerRef | None = None  # where its event sits in the ledger, and its receipt


class FreezeCreate(Body):
    """Freeze an owner's available units (all of them unless ``quantity`` is given)."""

    instrument: InstrumentCode
    owner: CreditCode
    ref: Ref
    reason: Text
    quantity: Quantity | None = None


class FreezePublic(Out):
    instrument: str
    owner: str
    ref: str
    quantity: int
    ledger: LedgerRef | None = None  # where its event sits in the ledger, and its receipt


class Unfreeze(Body):
    instrument: InstrumentCode
    ref: Ref


class UnfreezePublic(Out):
    instrument: str
    ref: str
    quantity: int
    ledger: LedgerRef | None = None  # where its event sits in the ledger, and its receipt


class ExpiryRun(Body):
    """Expire every unit whose validity ended before ``as_of`` (default: today, China time;
    never a future day, which would end units' validity early)."""

    as_of: date | None = None

    @field_validator("as_of", mode="before")
    @classmethod
    def _iso_text(cls, value: object) -> object:
        if value is not None and not isinstance(value, str):  # not a Unix time, say
            raise ValueError("as_of is an ISO date, YYYY-MM-DD")
        return value


class ExpiryPublic(Out):
    as_of: str
    expired: dict[str, int]
    ledger: LedgerRef | None = None  # the first instrument's Expired leaf (None: none expired)
    effects: list[LedgerRef] = Field(
        default_factory=list, description="every instrument's Expired leaf, in log order")

"""The request and response bodies of ``api.routes.agreements``."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import HANDLE_PATTERN, Text
from api.schemas.ledger import LedgerRef
from api.schemas.markets import INSTRUMENT_PATTERN, CreditCode, Price, Quantity

REFERENCE = HANDLE_PATTERN


States = Literal["offered", "accepted", "settled", "rejected", "withdrawn"]


class Offer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reference: Annotated[str | None, Field(pattern=REFERENCE,
                                           description="generated when absent")] = None
    instrument: Annotated[str, Field(pattern=INSTRUMENT_PATTERN, max_length=60)]
    buyer: CreditCode
    price: Price
    quantity: Quantity
    seller: CreditCode | None = Field(None, description="administrators: the seller")


class Reason(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Text


class Step(BaseModel):
    model_config = ConfigDict(extra="forbid")
    state: States
    by: str
    at: str
    reason: str | None = None


class Agreement(BaseModel):
    """``price`` fen/t, ``quantity`` kg, ``amount`` fen (what the buyer pays)."""

    model_config = ConfigDict(extra="forbid")
    reference: str
    instrument: str
    seller: str
    buyer: str
    price: int
    quantity: int
    amount: int
    state: States
    offered_by: str
    accepted_by: str | None
    history: list[Step]


class AgreementRecorded(Agreement):
    """Agreement as a write answers it: with where its event sits in the ledger."""

    ledger: LedgerRef | None = None  # where its event sits in the ledger, and its receipt

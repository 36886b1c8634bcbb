"""The request and response bodies of ``api.routes.cash``."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.ledger import LedgerRef

Fen = Annotated[int, Field(strict=True, gt=0, le=10**15, description="fen")]


class Record(BaseModel):
    """A deposit or withdrawal, as the bank or payment system reports it."""

    model_config = ConfigDict(extra="forbid")
    amount: Fen
    reference: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:#/-]{0,79}$",
                                    description="bank or payment reference, unique per account")]


class Account(BaseModel):
    """Balances in fen; ``available`` = ``balance`` − ``reserved`` (orders, bids, agreements)."""

    model_config = ConfigDict(extra="forbid")
    enterprise: str
    balance: int
    reserved: int
    available: int
    deposited: int
    withdrawn: int


class AccountRecorded(Account):
    """Account as a write answers it: with where its event sits in the ledger."""

    ledger: LedgerRef | None = None  # where its event sits in the ledger, and its receipt


class Movement(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int
    event: str
    reference: str
    at: str
    deposited: int = 0
    withdrawn: int = 0
    reserved: int = 0
    paid: int = 0
    released: int = 0
    received: int = 0

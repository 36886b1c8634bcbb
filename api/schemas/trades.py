"""Trades, the verification queue and receipts."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import Text
from api.schemas.ledger import LedgerRef

TradeIdPath = Annotated[str, Path(pattern=r"^[A-Z0-9_]{1,16}-[0-9]{4}-[A-Z0-9_]{1,40}:[0-9]{1,18}$",
                                  max_length=80, examples=["COD-2025-MAOZHOU:1"])]


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Trade(_Out):
    """One trade of the order book: ``price`` fen/t, ``quantity`` kg, ``value`` fen.
    ``state``: settled (delivery-versus-payment done), pending (waiting in the verification
    queue, ``reasons`` say why), rejected."""

    trade: str
    instrument: str
    price: int
    quantity: int
    value: int
    buyer: str
    seller: str
    state: Literal["settled", "pending", "rejected"]
    reasons: list[str]
    at: str
    settled_at: str | None


class Queued(_Out):
    """A trade waiting for an administrator. ``initiators`` may not approve it (four eyes)."""

    trade: str
    instrument: str
    price: int
    quantity: int
    value: int
    buyer: str
    seller: str
    reasons: list[str]
    initiators: list[str]
    at: str


class Rejection(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Text


class Proof(_Out):
    index: int
    size: int
    hashes: list[str] = Field(description="RFC 6962 inclusion proof, base64, leaf upward")


class Receipt(_Out):
    """Proof that the event recording something is in the ledger. Verify with the verifier
    key alone: the checkpoint's signature, then ``proof`` for ``hash_leaf(base64decode(leaf))``
    against the checkpoint's root; ``leaf`` is the event's canonical JSON."""

    subject: str = Field(description="the exact id of what the receipt is for, as the leaf "
                                     "names it in its typed subjects")
    subject_type: str = Field(description="its type: trade, agreement, auction, lot, "
                                          "transfer, deposit, freeze, retirement…")
    event: str = Field(description="the event that recorded it, e.g. BatchMatched")
    position: int = Field(description="event-log position of that event")
    index: int = Field(description="ledger index of its leaf")
    leaf: str
    disclosed: dict[str, Any] = Field(
        default_factory=dict,
        description="openings ({salt, value}) of the subject's own sealed parts of the leaf; "
                    "the other parties' parts stay sealed")
    checkpoint: str = Field(description="signed checkpoint note covering the leaf")
    proof: Proof


class TradeRecorded(Trade):
    """A trade as a decision on it answers it: with where the decision sits in the ledger."""

    ledger: LedgerRef | None = None  # the TradeApproved/TradeRejected leaf, and its receipt

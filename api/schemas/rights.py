"""The request and response bodies of ``api.routes.rights``."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from api.schemas.common import Amount, Body, Kind, Out, Ref
from api.schemas.ledger import LedgerRef

IsoDate = Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}$", description="ISO date")]


class RightConfirm(Body):
    kind: Kind
    quantity: Amount
    permit: Ref
    valid_from: IsoDate
    valid_until: IsoDate


class RightPublic(Out):
    enterprise: str
    kind: str
    quantity: int
    unit: str
    permit: dict[str, str]
    post_retrofit_level: int | None
    levels: dict[str, int]
    expansion_use: int
    changes: list[dict[str, Any]]
    version: int


class RightRecorded(RightPublic):
    """A right as confirming it answers it: with where its event sits in the ledger."""

    ledger: LedgerRef | None = None  # its Confirmed leaf, and its receipt

"""The request and response bodies of ``api.routes.bench``."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class EchoCreate(BaseModel):
    """The fields of an order, validated the same way, stored nowhere."""

    model_config = ConfigDict(extra="forbid")
    order_id: str | None = Field(default=None, min_length=1, max_length=64,
                                 pattern=r"^[A-Za-z0-9._:-]+$")
    side: Literal["buy", "sell"]
    kind: Literal["limit", "market"] = "limit"
    price: int = Field(default=0, ge=0, le=10**12, description="fen per tonne")
    quantity: int = Field(gt=0, le=10**12, description="kg (kgce for ENERGY)")
    account: str | None = Field(default=None, min_length=18, max_length=18)


class EchoPublic(BaseModel):
    model_config = ConfigDict(extra="forbid")
    account: str
    side: str
    kind: str
    price: int
    quantity: int

"""Bodies of the trading-rules routes (`api.routes.rules`)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field


class RulesPublic(BaseModel):
    model_config = ConfigDict(extra="forbid")
    versions: list[str]
    in_force: str = Field(description="the version in force today (issuance, new instruments)")
    history: list[dict[str, Any]] = Field(description="every adoption, oldest first")


class Adoption(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: Annotated[str, Field(min_length=1, max_length=64)]
    effective_from: Annotated[str | None, Field(
        pattern=r"^\d{4}-\d{2}-\d{2}$",
        description="ISO date it is in force from (default: the approval's day)")] = None

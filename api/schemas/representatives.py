"""Bodies of the second representative's routes (`api.routes.representatives`)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.ledger import LedgerRef
from api.schemas.proposals import ProposalPublic
from domain.proposal import Proposal


class RequestPublic(ProposalPublic):
    """A representative's request inside ``enterprise``, waiting for a second one."""

    enterprise: str

    @classmethod
    def of(cls, p: Proposal, at: str) -> RequestPublic:
        base = ProposalPublic.of(p, at).model_dump()
        return cls(**base, enterprise=str(p.enterprise))


class Confirmed(BaseModel):
    model_config = ConfigDict(extra="forbid")
    request: RequestPublic
    result: Any = Field(None, description="what the act answers (the setting now in force…)")
    ledger: LedgerRef | None = None  # the request's Approved leaf, saved with the act
    effects: list[LedgerRef] = Field(
        default_factory=list, description="the leaves of the act it took effect with, in order")


class Setting(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enterprise: str
    required: bool = Field(description="a transfer or an agreement out of the account needs "
                                       "a second representative's confirmation")


class SettingRecorded(Setting):
    """The setting as switching it on answers it: with where its event sits in the ledger."""

    ledger: LedgerRef | None = None  # its SecondRepresentativeSet leaf, and its receipt


class SettingChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    required: bool

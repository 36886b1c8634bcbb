"""The request and response bodies of ``api.routes.proposals``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.ledger import LedgerRef
from domain.proposal import Proposal


class ProposalPublic(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    action: str
    params: dict[str, Any]
    subject: str
    state: str
    proposed_by: str
    proposed_at: str
    expires_at: str
    decided_by: str | None
    decided_at: str | None
    reason: str | None
    ledger: LedgerRef | None = None  # where its event (proposed, rejected…) sits in the ledger

    @classmethod
    def of(cls, p: Proposal, at: str) -> ProposalPublic:
        return cls(id=p.proposal_id, action=p.action, params=p.params, subject=p.subject,
                   state=p.state_at(at), proposed_by=p.proposed_by, proposed_at=p.proposed_at,
                   expires_at=p.expires_at, decided_by=p.decided_by, decided_at=p.decided_at,
                   reason=p.reason)


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=500)


class Approved(BaseModel):
    model_config = ConfigDict(extra="forbid")
    proposal: ProposalPublic
    result: Any = Field(None, description="what the act answers (a balance, lots, surplus…)")
    ledger: LedgerRef | None = None  # the proposal's Approved leaf, saved with the act
    effects: list[LedgerRef] = Field(
        default_factory=list, description="the leaves of the act's own events (the deposit, "
        "the freeze, each lot issued…), each with its receipt")


def plain_result(result: Any) -> Any:
    """What an approved act returns, as JSON (``Approved.result``, the CLI's ``proposal
    approve``): plain values pass; an aggregate becomes nothing."""
    if result is None or isinstance(result, (str, int, bool, dict, list)):
        return result
    return None

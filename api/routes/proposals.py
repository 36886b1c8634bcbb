"""Proposals: four eyes on every sensitive act.

A route for a sensitive act (confirmation, issuance, deposits and withdrawals, freezes,
revocation, obligations, credit records, markets, rules, privileged roles) answers 202 with a
proposal; it takes effect when a *different* administrator approves it here (403
``four-eyes-violation`` for its proposer). Approving answers the act's result; a refused act
leaves the proposal pending and answers the refusal.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response

from api.deps import (
    Administrator,
    Auditor,
    Page,
    PageDep,
    RegistryDep,
    StateDep,
    not_found,
    now,
    paginate,
)
from api.ledger_refs import approval_recorded, with_ledger
from api.reruns import is_rerun, stored_approval
from api.schemas.proposals import Approved, Decision, ProposalPublic, plain_result
from api.state import AppState
from domain.errors import InvalidState, NotFound
from domain.proposal import Proposal

router = APIRouter(prefix="/proposals", tags=["proposals"])
ProposalId = Annotated[str, Path(pattern=r"^P-[0-9a-f]{16}$")]
State = Literal["pending", "approved", "rejected", "withdrawn", "expired"]

#: every route that proposes answers this
PROPOSED: dict[int | str, dict[str, Any]] = {
    202: {"description": "proposed: takes effect when a second administrator approves it"}}


def proposed(state: AppState, response: Response, by: str, action: str,
             **params: Any) -> ProposalPublic:
    """Propose ``action`` as ``by`` and answer 202 with the proposal and its ledger leaf."""
    at = now()
    response.status_code = 202
    before = state.registry.queries.position()
    out = ProposalPublic.of(state.registry.proposals.propose(action=action, params=params, by=by,
                                                             at=at),
                            at)
    return _decided(out, state, before, "Proposed")


def _decided(out: ProposalPublic, state: AppState, before: int, event: str) -> ProposalPublic:
    return with_ledger(out, state, before, subject_type="proposal", subject=out.id,
                       event=event, as_=ProposalPublic)


def _proposal(registry: RegistryDep, proposal_id: str) -> Proposal:
    try:
        return registry.proposals.proposal(proposal_id)
    except NotFound:
        raise not_found(f"proposal {proposal_id}") from None


@router.get("")
def list_proposals(_: Auditor, registry: RegistryDep, page: PageDep,
                   state: Annotated[State | None, Query()] = None) -> Page[ProposalPublic]:
    """Proposals, newest first; ``state`` filters (a pending one past its time is expired)."""
    at = now()
    return paginate([ProposalPublic.of(p, at) for p in registry.proposals.proposals(state=state,
                                                                                    at=at)],
                    page)


@router.get("/{proposal_id}")
def show_proposal(proposal_id: ProposalId, _: Auditor, registry: RegistryDep) -> ProposalPublic:
    return ProposalPublic.of(_proposal(registry, proposal_id), now())


@router.post("/{proposal_id}/approve")
def approve(proposal_id: ProposalId, admin: Administrator, registry: RegistryDep,
            request: Request, state: StateDep) -> Approved:
    """Approve (a different administrator than the proposer): the act takes effect now. A
    retry with the Idempotency-Key of an approval whose outcome was in doubt answers the
    stored approval, never "already approved" (`api.reruns`)."""
    _proposal(registry, proposal_id)
    before = registry.queries.position()
    try:
        result = registry.proposals.approve_proposal(proposal_id=proposal_id, by=admin.actor,
                                                     at=now())
    except InvalidState:
        found = stored_approval(registry, _proposal(registry, proposal_id), admin.actor) \
            if is_rerun(request) else None
        if found is None:
            raise
        result = found.result
        before = 0  # the first run's approval: found wherever it is
    ledger, effects = approval_recorded(state, before, proposal_id=proposal_id,
                                        approved_by=admin.actor)
    return Approved(proposal=ProposalPublic.of(registry.proposals.proposal(proposal_id), now()),
                    result=plain_result(result), ledger=ledger, effects=effects)


@router.post("/{proposal_id}/reject")
def reject(proposal_id: ProposalId, body: Decision, admin: Administrator,
           registry: RegistryDep, state: StateDep) -> ProposalPublic:
    _proposal(registry, proposal_id)
    before = registry.queries.position()
    return _decided(ProposalPublic.of(registry.proposals.reject_proposal(
        proposal_id=proposal_id, by=admin.actor, reason=body.reason, at=now()), now()),
        state, before, "Rejected")


@router.post("/{proposal_id}/withdraw")
def withdraw(proposal_id: ProposalId, admin: Administrator,
             registry: RegistryDep, state: StateDep) -> ProposalPublic:
    """The proposer takes its proposal back."""
    _proposal(registry, proposal_id)
    before = registry.queries.position()
    return _decided(ProposalPublic.of(registry.proposals.withdraw_proposal(
        proposal_id=proposal_id, by=admin.actor, at=now()), now()), state, before, "Withdrawn")


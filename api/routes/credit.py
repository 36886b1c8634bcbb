"""Credit records of enterprises and agencies: every restriction and restoration with its reason
and reference. A restricted enterprise may not trade; a restricted agency may not audit or
verify. Administrators change records; a party reads its own, administrators and auditors all.
"""

from __future__ import annotations

from fastapi import APIRouter, Response

from api.auth import CurrentUser
from api.deps import Administrator, OwnEnterprise, RegistryDep, StateDep, authorize_agency
from api.routes.proposals import proposed
from api.schemas.parties import CreditChange, CreditRecordPublic
from api.schemas.proposals import ProposalPublic
from domain.errors import InvalidState

router = APIRouter(prefix="/credit", tags=["credit records"])


@router.get("/enterprises/{code}")
def enterprise_record(code: OwnEnterprise, registry: RegistryDep) -> CreditRecordPublic:
    """An enterprise's standing and every change to it."""
    return CreditRecordPublic.of(registry.enterprise(code))


@router.post("/enterprises/{code}/restrictions", status_code=202)
def restrict_enterprise(code: str, body: CreditChange, user: Administrator,
                        registry: RegistryDep, state: StateDep,
                        response: Response) -> ProposalPublic:
    """Propose barring the enterprise from trading (administrators; four eyes)."""
    registry.enterprise(code)
    return proposed(state, response, user.actor, "restrict_enterprise", credit_code=code,
                    reason=body.reason, reference=body.reference)


@router.post("/enterprises/{code}/restorations", status_code=202)
def restore_enterprise(code: str, body: CreditChange, user: Administrator,
                       registry: RegistryDep, state: StateDep,
                       response: Response) -> ProposalPublic:
    """Propose lifting a restriction (administrators; four eyes); 409 at once when the
    enterprise is not restricted."""
    if registry.enterprise(code).standing != "restricted":
        raise InvalidState(f"{code} is not restricted")
    return proposed(state, response, user.actor, "restore_enterprise", credit_code=code,
                    reason=body.reason, reference=body.reference)


@router.get("/agencies/{code}")
def agency_record(code: str, user: CurrentUser, registry: RegistryDep) -> CreditRecordPublic:
    """An agency's standing and every change to it (the agency itself, administrators,
    auditors)."""
    return CreditRecordPublic.of(registry.agency(authorize_agency(user, code)))


@router.post("/agencies/{code}/restrictions", status_code=202)
def restrict_agency(code: str, body: CreditChange, user: Administrator,
                    registry: RegistryDep, state: StateDep, response: Response) -> ProposalPublic:
    """Propose barring the agency from auditing and verifying (administrators; four eyes)."""
    registry.agency(code)
    return proposed(state, response, user.actor, "restrict_agency", credit_code=code,
                    reason=body.reason, reference=body.reference)


@router.post("/agencies/{code}/restorations", status_code=202)
def restore_agency(code: str, body: CreditChange, user: Administrator,
                   registry: RegistryDep, state: StateDep, response: Response) -> ProposalPublic:
    """Propose lifting an agency's restriction (administrators; four eyes)."""
    if registry.agency(code).standing != "restricted":
        raise InvalidState(f"{code} is not restricted")
    return proposed(state, response, user.actor, "restore_agency", credit_code=code,
                    reason=body.reason, reference=body.reference)

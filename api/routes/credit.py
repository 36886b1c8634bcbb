"""Credit records of enterprises and agencies: every restriction and restoration with its reason
and reference. A restricted enterprise may not trade; a restricted agency may not audit or
verify. Administrators change records; a party reads its own, administrators and auditors all.
"""

from __future__ import annotations

from fastapi import APIRouter

from api.auth import CurrentUser
from api.deps import Administrator, OwnEnterprise, RegistryDep, authorize_agency, now
from api.schemas.parties import CreditChange, CreditRecordPublic
from registry import agencies as agency_commands

router = APIRouter(prefix="/credit", tags=["credit records"])


@router.get("/enterprises/{code}")
def enterprise_record(code: OwnEnterprise, registry: RegistryDep) -> CreditRecordPublic:
    """An enterprise's standing and every change to it."""
    return CreditRecordPublic.of(registry.enterprise(code))


@router.post("/enterprises/{code}/restrictions")
def restrict_enterprise(code: str, body: CreditChange, user: Administrator,
                        registry: RegistryDep) -> CreditRecordPublic:
    """Bar the enterprise from trading (administrators)."""
    registry.restrict_enterprise(credit_code=code, reason=body.reason,
                                 reference=body.reference, at=now())
    return CreditRecordPublic.of(registry.enterprise(code))


@router.post("/enterprises/{code}/restorations")
def restore_enterprise(code: str, body: CreditChange, user: Administrator,
                       registry: RegistryDep) -> CreditRecordPublic:
    """Lift a restriction (administrators); 409 when the enterprise is not restricted."""
    registry.restore_enterprise(credit_code=code, reason=body.reason,
                                reference=body.reference, at=now())
    return CreditRecordPublic.of(registry.enterprise(code))


@router.get("/agencies/{code}")
def agency_record(code: str, user: CurrentUser, registry: RegistryDep) -> CreditRecordPublic:
    """An agency's standing and every change to it (the agency itself, administrators,
    auditors)."""
    return CreditRecordPublic.of(registry.agency(authorize_agency(user, code)))


@router.post("/agencies/{code}/restrictions")
def restrict_agency(code: str, body: CreditChange, user: Administrator,
                    registry: RegistryDep) -> CreditRecordPublic:
    """Bar the agency from auditing and verifying (administrators)."""
    registry.restrict_agency(credit_code=code, reason=body.reason, reference=body.reference,
                             at=now())
    return CreditRecordPublic.of(registry.agency(code))


@router.post("/agencies/{code}/restorations")
def restore_agency(code: str, body: CreditChange, user: Administrator,
                   registry: RegistryDep) -> CreditRecordPublic:
    """Lift an agency's restriction (administrators)."""
    agency_commands.restore_agency(registry, credit_code=code, reason=body.reason,
                                   reference=body.reference, at=now())
    return CreditRecordPublic.of(registry.agency(code))

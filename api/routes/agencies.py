"""Third-party audit and verification agencies: registration and accreditation
(administrators). The register of agencies and their accreditation is open to every
authenticated participant: enterprises choose their auditors from it."""

from __future__ import annotations

from fastapi import APIRouter, status

from api.auth import CurrentUser
from api.deps import Administrator, Page, PageDep, RegistryDep, StateDep, now
from api.ledger_refs import with_ledger
from api.listing import page_of
from api.schemas.parties import (
    Accreditation,
    AccreditationWithdrawal,
    AgencyCreate,
    AgencyPublic,
    AgencyRecorded,
)
from api.state import AppState

router = APIRouter(prefix="/agencies", tags=["agencies"])


@router.post("", status_code=status.HTTP_201_CREATED)
def register_agency(body: AgencyCreate, _: Administrator, registry: RegistryDep,
                    state: StateDep) -> AgencyRecorded:
    """Register an agency (administrators); it may audit once accredited."""
    before = registry.queries.position()
    a = registry.register_agency(credit_code=body.credit_code, name=body.name, at=now(),
                                 controlled_by=body.controlled_by)
    return _recorded(AgencyPublic.of(a), state, before, "Registered")


@router.get("")
def list_agencies(_: CurrentUser, registry: RegistryDep, page: PageDep) -> Page[AgencyPublic]:
    """Every registered agency with its accreditation and standing."""
    codes = registry.catalogue().entries["agencies"]
    return page_of(codes, page, lambda c: AgencyPublic.of(registry.agency(c)))


@router.get("/{code}")
def show_agency(code: str, _: CurrentUser, registry: RegistryDep) -> AgencyPublic:
    """One agency's accreditation and standing."""
    return AgencyPublic.of(registry.agency(code))


@router.post("/{code}/accreditation")
def accredit_agency(code: str, body: Accreditation, _: Administrator,
                    registry: RegistryDep, state: StateDep) -> AgencyRecorded:
    """Record the agency's accreditation certificate (administrators)."""
    before = registry.queries.position()
    registry.accredit_agency(credit_code=code, accreditation=body.accreditation, at=now())
    return _recorded(AgencyPublic.of(registry.agency(code)), state, before, "Accredited")


@router.post("/{code}/accreditation/withdrawal")
def withdraw_accreditation(code: str, body: AccreditationWithdrawal, _: Administrator,
                           registry: RegistryDep, state: StateDep) -> AgencyRecorded:
    """Withdraw the accreditation (administrators): the agency may no longer audit or verify."""
    before = registry.queries.position()
    registry.withdraw_accreditation(credit_code=code, reason=body.reason, at=now())
    return _recorded(AgencyPublic.of(registry.agency(code)), state, before,
                     "AccreditationWithdrawn")


def _recorded(out: AgencyPublic, state: AppState, before: int, event: str) -> AgencyRecorded:
    return with_ledger(out, state, before, subject_type="agency", subject=out.credit_code,
                       event=event, as_=AgencyRecorded)

"""Enterprises: registration (administrators), the record with its obligations, and setting an
enterprise's own reduction or energy-saving task (administrators).

An enterprise reads only its own record (another's answers 404); administrators and auditors
read all of them.
"""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from api.deps import (
    Administrator,
    Auditor,
    OwnEnterprise,
    Page,
    PageDep,
    RegistryDep,
    StateDep,
    now,
)
from api.ledger_refs import with_ledger
from api.listing import page_of
from api.routes.proposals import proposed
from api.schemas.parties import (
    EnterpriseCreate,
    EnterprisePublic,
    EnterpriseRecorded,
    ObligationSet,
)
from api.schemas.proposals import ProposalPublic

router = APIRouter(prefix="/enterprises", tags=["enterprises"])


@router.post("", status_code=status.HTTP_201_CREATED)
def register_enterprise(body: EnterpriseCreate, _: Administrator,
                        registry: RegistryDep, state: StateDep) -> EnterpriseRecorded:
    """Register an enterprise under its unified social credit code (administrators)."""
    before = registry.queries.position()
    e = registry.register_enterprise(
        credit_code=body.credit_code, name=body.name, sector=body.sector,
        prefecture=body.prefecture, basin=body.basin,
        direct_discharger=body.direct_discharger, at=now())
    return with_ledger(EnterprisePublic.of(e), state, before, subject_type="enterprise",
                       subject=body.credit_code, event="Registered", as_=EnterpriseRecorded)


@router.get("")
def list_enterprises(_: Auditor, registry: RegistryDep,
                     page: PageDep) -> Page[EnterprisePublic]:
    """Every registered enterprise, in registration order (administrators, auditors)."""
    codes = registry.catalogue().entries["enterprises"]
    return page_of(codes, page, lambda c: EnterprisePublic.of(registry.enterprise(c)))


@router.get("/{code}")
def show_enterprise(code: OwnEnterprise, registry: RegistryDep) -> EnterprisePublic:
    """An enterprise's record: sector, zone, standing and obligations."""
    return EnterprisePublic.of(registry.enterprise(code))


@router.post("/{code}/obligations", status_code=202)
def set_obligation(code: str, body: ObligationSet, user: Administrator,
                   registry: RegistryDep, state: StateDep, response: Response) -> ProposalPublic:
    """Propose the enterprise's own task for a kind and period (administrators; four eyes).
    Surplus exists only beyond it."""
    registry.enterprise(code)
    return proposed(state, response, user.actor, "set_obligation", credit_code=code,
                    kind=body.kind, period=body.period, target=body.target, reason=body.reason)

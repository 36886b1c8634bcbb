"""Applications of surplus to an enterprise's own capacity expansion or new products.

An enterprise submits its own application (an administrator may submit one naming the
enterprise); its units are reserved meanwhile. Administrators approve (the units are consumed,
linked to the approval document) or reject (the units are released). An enterprise reads its
own applications only; administrators and auditors read all.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status

from api.auth import CurrentUser
from api.deps import (
    Administrator,
    Page,
    PageDep,
    RegistryDep,
    StateDep,
    acting_for,
    not_found,
    now,
    paginate,
)
from api.ledger_refs import with_ledger
from api.schemas.retrofits import (
    ExpansionApproval,
    ExpansionCreate,
    ExpansionPublic,
    ExpansionRecorded,
    ExpansionRejection,
)
from domain.errors import NotFound
from domain.expansion import ExpansionApplication
from registry import directory

router = APIRouter(prefix="/expansions", tags=["expansions"])


def readable_expansion(reference: str, user: CurrentUser,
                       registry: RegistryDep) -> ExpansionApplication:
    """The object-level check for one application: another's and unknown both answer 404."""
    try:
        x = registry.expansion(reference)
    except NotFound:
        raise not_found(f"expansion application {reference}") from None
    if user.role not in ("administrator", "auditor") and not (
            user.role == "enterprise" and user.subject == x.enterprise):
        # the answer an unknown reference gets: naming the owner would tell who applied
        raise not_found(f"expansion application {reference}")
    return x


ReadableExpansion = Annotated[ExpansionApplication, Depends(readable_expansion)]


@router.post("", status_code=status.HTTP_201_CREATED)
def submit(body: ExpansionCreate, user: CurrentUser, registry: RegistryDep,
           state: StateDep) -> ExpansionRecorded:
    """Submit an application; its units are reserved until an administrator decides."""
    enterprise = acting_for(user, body.enterprise)
    before = registry.queries.position()
    x = registry.holdings.submit_expansion(reference=body.reference, enterprise=enterprise,
                                           instrument=body.instrument, quantity=body.quantity,
                                           project=body.project, at=now())
    return with_ledger(ExpansionPublic.of(x), state, before, subject_type="expansion",
                       subject=body.reference, event="Submitted", as_=ExpansionRecorded)


@router.get("")
def list_expansions(user: CurrentUser, registry: RegistryDep,
                    page: PageDep) -> Page[ExpansionPublic]:
    """The applications the caller may read, in submission order."""
    if user.role == "enterprise":
        found = directory.expansions(registry, enterprise=user.subject)
    elif user.role in ("administrator", "auditor"):
        found = directory.expansions(registry)
    else:
        found = []
    return paginate([ExpansionPublic.of(x) for x in found], page)


@router.get("/{reference}")
def show(x: ReadableExpansion) -> ExpansionPublic:
    """One application and its decision."""
    return ExpansionPublic.of(x)


@router.post("/{reference}/approval")
def approve(reference: str, body: ExpansionApproval, user: Administrator,
            registry: RegistryDep, state: StateDep) -> ExpansionRecorded:
    """Approve (administrators): the reserved units are consumed under the approval."""
    before = registry.queries.position()
    registry.holdings.approve_expansion(reference=reference, administrator=user.actor,
                                        approval=body.approval, at=now())
    return with_ledger(ExpansionPublic.of(registry.expansion(reference)), state, before,
                       subject_type="consumption", subject=body.approval, event="Consumed",
                       as_=ExpansionRecorded)


@router.post("/{reference}/rejection")
def reject(reference: str, body: ExpansionRejection, user: Administrator,
           registry: RegistryDep, state: StateDep) -> ExpansionRecorded:
    """Reject (administrators): the reserved units return to available."""
    before = registry.queries.position()
    registry.holdings.reject_expansion(reference=reference, administrator=user.actor,
                                       reason=body.reason, at=now())
    return with_ledger(ExpansionPublic.of(registry.expansion(reference)), state, before,
                       subject_type="expansion", subject=reference, event="Rejected",
                       as_=ExpansionRecorded)

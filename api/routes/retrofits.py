"""Retrofits: registration, audits, verification, confirmation (确权), issuance, revocation.

Who does what, as a regulator's registry would have it:
- an enterprise registers its own retrofit project (an administrator may register one on an
  enterprise's behalf, naming it);
- agencies submit the baseline and post-retrofit audits and the verification, each under the
  agency's own credit code (the token's), with the report referenced by its SHA-256;
- administrators confirm, issue, and revoke after a failed spot check.

Reading: administrators and auditors read every retrofit; an enterprise its own; an agency
those it audited or verified, and, by reference, any still awaiting audit or verification work
(the enterprise that engages it gives it the reference; the agency's list shows only its own
work). Everything else answers 404.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from api.auth import CurrentUser
from api.deps import (
    Administrator,
    AgencyUser,
    Page,
    PageDep,
    RegistryDep,
    StateDep,
    acting_for,
    not_found,
    now,
    paginate,
)
from api.errors import ApiError
from api.ledger_refs import with_ledger
from api.routes.proposals import proposed
from api.schemas.proposals import ProposalPublic
from api.schemas.retrofits import (
    AuditSubmission,
    Decision,
    EngagementCreate,
    RetrofitCreate,
    RetrofitPublic,
    RetrofitRecorded,
    Revocation,
    VerificationSubmission,
)
from api.state import AppState
from api.tokens import Principal
from domain.errors import NotFound
from domain.retrofit import Retrofit
from registry import directory
from registry.bootstrap import Registry

router = APIRouter(prefix="/retrofits", tags=["retrofits"])


def may_read(user: Principal, r: Retrofit) -> bool:
    if user.role in ("administrator", "auditor"):
        return True
    if user.role == "enterprise":
        return r.enterprise == user.subject
    return user.role == "agency" and directory.agency_may_read(r, user.subject)


def readable_retrofit(reference: str, user: CurrentUser, registry: RegistryDep) -> Retrofit:
    """The object-level check for one retrofit: unreadable and unknown both answer 404."""
    try:
        r = registry.retrofit(reference)
    except NotFound:
        raise not_found(f"retrofit {reference}") from None
    if not may_read(user, r):
        raise not_found(f"retrofit {reference}")
    return r


ReadableRetrofit = Annotated[Retrofit, Depends(readable_retrofit)]


def visible(registry: Registry, user: Principal) -> list[Retrofit]:
    if user.role == "enterprise":
        return directory.retrofits(registry, enterprise=user.subject)
    if user.role == "agency":
        return directory.retrofits(registry, agency=user.subject)
    return directory.retrofits(registry)


def _recorded(out: RetrofitPublic, state: AppState, before: int,
              event: str) -> RetrofitRecorded:
    return with_ledger(out, state, before, subject_type="retrofit", subject=out.reference,
                       event=event, as_=RetrofitRecorded)


@router.post("", status_code=status.HTTP_201_CREATED)
def register_retrofit(body: RetrofitCreate, user: CurrentUser,
                      registry: RegistryDep, state: StateDep) -> RetrofitRecorded:
    """Register a retrofit project (an enterprise for itself, or an administrator)."""
    enterprise = acting_for(user, body.enterprise)
    before = registry.queries.position()
    r = registry.retrofits.register_retrofit(reference=body.reference, enterprise=enterprise,
                                             period=body.period, kinds=list(body.kinds),
                                             description=body.description, at=now())
    return _recorded(RetrofitPublic.of(r), state, before, "Registered")


@router.get("")
def list_retrofits(user: CurrentUser, registry: RegistryDep,
                   page: PageDep) -> Page[RetrofitPublic]:
    """The retrofits the caller may read, in registration order."""
    return paginate([RetrofitPublic.of(r) for r in visible(registry, user)], page)


@router.get("/{reference}")
def show_retrofit(r: ReadableRetrofit) -> RetrofitPublic:
    """One retrofit: state, audits, verification, confirmation, lots, revocation."""
    return RetrofitPublic.of(r)


@router.post("/{reference}/engagements", status_code=status.HTTP_201_CREATED)
def engage(body: EngagementCreate, r: ReadableRetrofit, user: CurrentUser,
           registry: RegistryDep, state: StateDep) -> RetrofitRecorded:
    """The enterprise (or an administrator for it) engages an agency for the audits or the
    verification: only that agency files the stage. The agency is independent of the
    enterprise and the verifier of the auditor (403 ``agency-not-eligible``)."""
    if user.role not in ("enterprise", "administrator"):
        raise ApiError(403, "forbidden", "this needs the role enterprise or administrator")
    before = registry.queries.position()
    registry.retrofits.engage_agency(reference=r.reference, stage=body.stage, agency=body.agency,
                                     by=user.actor, at=now())
    return _recorded(RetrofitPublic.of(registry.retrofit(r.reference)), state, before,
                     "Engaged")


@router.post("/{reference}/baseline-audit")
def baseline_audit(reference: str, body: AuditSubmission, user: AgencyUser,
                   registry: RegistryDep, state: StateDep) -> RetrofitRecorded:
    """The agency's baseline (before) audit."""
    before = registry.queries.position()
    registry.retrofits.record_baseline_audit(reference=reference, agency=user.subject,
                                             report_sha256=body.report_sha256,
                                             amounts=dict(body.amounts), at=now())
    return _recorded(RetrofitPublic.of(registry.retrofit(reference)), state, before,
                     "BaselineAudited")


@router.post("/{reference}/post-audit")
def post_audit(reference: str, body: AuditSubmission, user: AgencyUser,
               registry: RegistryDep, state: StateDep) -> RetrofitRecorded:
    """The agency's post-retrofit audit; the amounts may not exceed the baseline."""
    before = registry.queries.position()
    registry.retrofits.record_post_audit(reference=reference, agency=user.subject,
                                         report_sha256=body.report_sha256,
                                         amounts=dict(body.amounts), at=now())
    return _recorded(RetrofitPublic.of(registry.retrofit(reference)), state, before,
                     "PostAudited")


@router.post("/{reference}/verification")
def verification(reference: str, body: VerificationSubmission, user: AgencyUser,
                 registry: RegistryDep, state: StateDep) -> RetrofitRecorded:
    """Verification by an accredited agency that did not audit this retrofit (403 otherwise)."""
    before = registry.queries.position()
    registry.retrofits.verify_retrofit(reference=reference, agency=user.subject,
                                       report_sha256=body.report_sha256,
                                       reductions=dict(body.reductions), at=now())
    return _recorded(RetrofitPublic.of(registry.retrofit(reference)), state, before,
                     "Verified")


@router.post("/{reference}/confirmation", status_code=202)
def confirmation(reference: str, user: Administrator, registry: RegistryDep, state: StateDep,
                 response: Response, _: Decision | None = None) -> ProposalPublic:
    """Propose 确权 (administrators; four eyes): on approval the verified reduction first
    meets the enterprise's remaining task, the rest is surplus (the approval answers it)."""
    registry.retrofit(reference).check_confirmable()
    return proposed(state, response, user.actor, "confirm_retrofit", reference=reference)


@router.post("/{reference}/issuance", status_code=202)
def issuance(reference: str, user: Administrator, registry: RegistryDep, state: StateDep,
             response: Response, _: Decision | None = None) -> ProposalPublic:
    """Propose issuing the confirmed surplus as serial-numbered lots, one per kind
    (administrators; four eyes); 409 ``no-surplus`` when the reduction only met the
    enterprise's own task."""
    registry.retrofit(reference).check_issuable()
    return proposed(state, response, user.actor, "issue_surplus", reference=reference)


@router.post("/{reference}/revocation", status_code=202)
def revocation(reference: str, body: Revocation, user: Administrator,
               registry: RegistryDep, state: StateDep, response: Response) -> ProposalPublic:
    """Propose revoking after a failed spot check under the clawback policy (administrators;
    four eyes): units still available or reserved are revoked wherever held; consumed or
    retired ones are added to the enterprise's task; the credit records named are
    restricted."""
    registry.retrofit(reference)
    return proposed(state, response, user.actor, "revoke_retrofit", reference=reference,
                    reason=body.reason, spot_check=body.spot_check,
                    restrict_enterprise=body.restrict_enterprise,
                    restrict_agencies=list(body.restrict_agencies))

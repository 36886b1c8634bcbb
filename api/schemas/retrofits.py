"""Schemas of the retrofit lifecycle and of capacity-expansion applications."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from api.schemas.common import (
    Amount,
    Body,
    CreditCode,
    InstrumentCode,
    Kind,
    Out,
    Quantity,
    Ref,
    Sha256,
    TermOut,
    Text,
    Year,
)
from api.schemas.ledger import LedgerRef

Amounts = Annotated[dict[Kind, Amount], Field(min_length=1, max_length=6)]


class RetrofitCreate(Body):
    """A retrofit project. An enterprise registers its own (``enterprise`` omitted or its own
    code); an administrator registers one on an enterprise's behalf and names it."""

    reference: Ref
    enterprise: CreditCode | None = None
    period: Year
    kinds: Annotated[list[Kind], Field(min_length=1, max_length=6)]
    description: Text


class AuditSubmission(Body):
    """A baseline or post-retrofit audit: the report's SHA-256 and the amounts it states."""

    report_sha256: Sha256
    amounts: Amounts


class VerificationSubmission(Body):
    report_sha256: Sha256
    reductions: Amounts


class Decision(Body):
    """An administrator's confirmation or issuance: no fields (the body may be omitted); the
    administrator is the token's subject and the time the server's."""


class Revocation(Body):
    reason: Text
    spot_check: Ref
    restrict_enterprise: bool = True
    restrict_agencies: Annotated[list[CreditCode], Field(max_length=10)] = []


class Document(Out):
    agency: str
    report_sha256: str
    at: str
    amounts: dict[str, int] | None = None
    reductions: dict[str, int] | None = None


class RetrofitPublic(Out):
    reference: str
    enterprise: str
    period: int
    kinds: list[str]
    description: str
    state: str
    baseline_audit: Document | None
    post_audit: Document | None
    verification: Document | None
    confirmation: dict[str, Any] | None
    lots: dict[str, dict[str, Any]]
    revocation: dict[str, Any] | None
    engagements: dict[str, str]
    version: int

    @classmethod
    def of(cls, r: Any) -> RetrofitPublic:
        def doc(d: dict[str, Any] | None) -> Document | None:
            return None if d is None else Document(**d)

        return cls(reference=r.reference, enterprise=r.enterprise, period=r.period,
                   kinds=r.kinds, description=r.description, state=r.state,
                   baseline_audit=doc(r.baseline), post_audit=doc(r.post),
                   verification=doc(r.verification), confirmation=r.confirmation,
                   lots=r.lots, revocation=r.revocation,
                   engagements=dict(getattr(r, "engagements", {})), version=r.version)


class EngagementCreate(Body):
    """The agency the enterprise engages for the retrofit's audits or its verification."""

    stage: Literal["audit", "verification"]
    agency: CreditCode


class Confirmed(Out):
    reference: str
    surplus: dict[str, int]


class Lot(Out):
    instrument: str
    lot: str
    first: int
    last: int
    quantity: int  # kg (kgce) a year, for the rest of the term
    term: TermOut | None = None  # None: issued before terms were recorded


class Issued(Out):
    reference: str
    lots: dict[str, Lot]
    ledger: LedgerRef | None = None  # where its event sits in the ledger, and its receipt


class LotRevoked(Out):
    lost_by_holder: dict[str, int]
    unrecoverable: int
    reservations_hit: dict[str, int]


class Revoked(Out):
    reference: str
    revoked: dict[str, LotRevoked]


class ExpansionCreate(Body):
    """Apply surplus to one's own capacity expansion or new product; the units are reserved
    until an administrator decides."""

    reference: Ref
    enterprise: CreditCode | None = None
    instrument: InstrumentCode
    quantity: Quantity
    project: Text


class ExpansionApproval(Body):
    approval: Ref


class ExpansionRejection(Body):
    reason: Text


class ExpansionPublic(Out):
    reference: str
    enterprise: str
    instrument: str
    quantity: int
    project: str
    state: str
    approval: str | None
    decided_by: str | None

    @classmethod
    def of(cls, x: Any) -> ExpansionPublic:
        return cls(reference=x.reference, enterprise=x.enterprise, instrument=x.instrument,
                   quantity=x.quantity, project=x.project, state=x.state, approval=x.approval,
                   decided_by=x.decided_by)


class ExpansionRecorded(ExpansionPublic):
    """An application as a decision answers it: with where its event sits in the ledger."""

    ledger: LedgerRef | None = None  # where its event sits in the ledger, and its receipt


class RetrofitRecorded(RetrofitPublic):
    """A retrofit as a write on it answers it: with where its event sits in the ledger."""

    ledger: LedgerRef | None = None  # the stage's leaf (Registered, Engaged, …), its receipt

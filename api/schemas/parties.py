"""Schemas of enterprises, agencies and their credit records."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from api.schemas.common import (
    Amount,
    Basin,
    Body,
    CreditCode,
    Kind,
    Out,
    Prefecture,
    Ref,
    Sector,
    Text,
    Year,
)
from api.schemas.ledger import LedgerRef


class EnterpriseCreate(Body):
    credit_code: CreditCode
    name: Text
    sector: Sector
    prefecture: Prefecture
    basin: Basin
    direct_discharger: bool


class ObligationSet(Body):
    kind: Kind
    period: Year
    target: Amount
    reason: str = Field("", max_length=500, description="why: needed to change a task set "
                                                         "before")


class Obligation(Out):
    kind: str
    period: int
    target: int
    achieved: int
    remaining: int


class EnterprisePublic(Out):
    credit_code: str
    name: str
    sector: str
    prefecture: str
    basin: str
    direct_discharger: bool
    standing: str
    registered_at: str
    obligations: list[Obligation]

    @classmethod
    def of(cls, e: Any) -> EnterprisePublic:
        obligations = []
        for key, entry in sorted(e.obligations.items()):
            kind, _, period = key.partition(":")
            target, achieved = entry.get("target", 0), entry.get("achieved", 0)
            obligations.append(Obligation(kind=kind, period=int(period), target=target,
                                          achieved=achieved,
                                          remaining=max(0, target - achieved)))
        return cls(credit_code=e.credit_code, name=e.name, sector=e.sector,
                   prefecture=e.prefecture, basin=e.basin,
                   direct_discharger=e.direct_discharger, standing=e.standing,
                   registered_at=e.registered_at, obligations=obligations)


class AgencyCreate(Body):
    credit_code: CreditCode
    name: Text
    controlled_by: CreditCode | None = None  # the enterprise that controls it, if any


class Accreditation(Body):
    accreditation: Ref


class AccreditationWithdrawal(Body):
    reason: Text


class AgencyPublic(Out):
    credit_code: str
    name: str
    accreditation: str | None
    standing: str
    registered_at: str

    @classmethod
    def of(cls, a: Any) -> AgencyPublic:
        return cls(credit_code=a.credit_code, name=a.name, accreditation=a.accreditation,
                   standing=a.standing, registered_at=a.registered_at)


class CreditChange(Body):
    """A restriction or restoration: why, and the document (decision, spot check) behind it."""

    reason: Text
    reference: Ref


class CreditEntry(Out):
    change: str
    reason: str
    reference: str
    at: str


class CreditRecordPublic(Out):
    credit_code: str
    standing: str
    record: list[CreditEntry]

    @classmethod
    def of(cls, party: Any) -> CreditRecordPublic:
        return cls(credit_code=party.credit_code, standing=party.standing,
                   record=[CreditEntry(**entry) for entry in party.credit_record])


class EnterpriseRecorded(EnterprisePublic):
    """An enterprise as registering it answers it: with where its event sits in the ledger."""

    ledger: LedgerRef | None = None  # its Registered leaf, and its receipt


class AgencyRecorded(AgencyPublic):
    """An agency as a write on it answers it: with where its event sits in the ledger."""

    ledger: LedgerRef | None = None  # its Registered/Accredited/… leaf, and its receipt

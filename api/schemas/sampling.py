"""The request and response bodies of ``api.routes.sampling``."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from api.schemas.common import Amount, Body, CreditCode, Kind, Out, Ref, Sha256, Year
from api.schemas.ledger import LedgerRef


class RoundCreate(Body):
    reference: Ref
    period: Year
    rules_version: Ref | None = None


class OutcomeCreate(Body):
    retrofit: Ref
    result: Literal["pass", "fail"]
    findings: Annotated[str, Field(max_length=2000)] = ""
    report_sha256: Sha256
    measured: Annotated[dict[Kind, Amount] | None, Field(max_length=6)] = None
    agencies_at_fault: Annotated[list[CreditCode] | None, Field(max_length=10)] = None


class RoundPublic(Out):
    reference: str
    period: int
    state: str
    rules_version: str
    sample_size: int
    population: list[dict[str, Any]]
    agencies: list[str]
    opened: dict[str, str]
    seed: dict[str, Any] | None
    sample: list[dict[str, Any]]
    outcomes: list[dict[str, Any]]


class RoundRecorded(RoundPublic):
    """A round as opening or drawing it answers it: with where its events sit in the ledger."""

    ledger: LedgerRef | None = None  # its Opened leaf (opening) or its Drawn leaf (a draw)
    effects: list[LedgerRef] = Field(
        default_factory=list, description="the round's further leaves: the Drawn of an opening")


class OutcomePublic(Out):
    retrofit: str
    result: str
    audit: str
    findings: str
    report_sha256: str
    measured: dict[str, int] | None
    agencies_at_fault: list[str]
    enterprise: str
    revoked: dict[str, Any]
    ledger: LedgerRef | None = None  # the round's leaf recording the outcome, and its receipt
    effects: list[LedgerRef] = Field(
        default_factory=list, description="a failure's leaves on the retrofit (its revocation)")

"""The request and response bodies of ``api.routes.compliance``."""

from __future__ import annotations

from typing import Any

from api.schemas.common import Out, TermOut


class Figure(Out):
    amount: int
    positions: list[int]


class ComplianceRow(Out):
    kind: str
    unit: str
    term: TermOut | None  # of the year's units the enterprise moved (None: it moved none)
    confirmed_right: Figure
    post_retrofit_level: Figure
    obligation_target: Figure
    achieved: Figure
    remaining: Figure
    surplus_issued: Figure
    sold: Figure
    bought: Figure
    used: Figure
    expired: Figure
    revoked: Figure


class ComplianceReport(Out):
    enterprise: str
    name: str
    compliance_year: int
    rows: list[ComplianceRow]
    last_position: int


class ZoneRow(Out):
    kind: str
    zone: str
    unit: str
    terms: list[TermOut]  # one per instrument of the zone and year
    conserved: bool
    issued: Figure
    traded: Figure
    available: Figure
    reserved: Figure
    consumed: Figure
    retired: Figure
    expired: Figure
    revoked: Figure


class ProvinceReport(Out):
    compliance_year: int
    zones: list[ZoneRow]
    cross_zone_transfers: list[dict[str, Any]]
    proved: bool
    last_position: int

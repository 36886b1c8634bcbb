"""The request and response bodies of ``api.routes.compliance``."""

from __future__ import annotations

from typing import Any

from api.schemas.common import Out


class Figure(Out):
    amount: int
    positions: list[int]


class ComplianceRow(Out):
    kind: str
    unit: str
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

"""The §19 annual report per enterprise and compliance year, and the province-wide report per
trading zone: JSON (every figure with the event-log positions it sums, each of which has a
ledger receipt), CSV, or a plain printable HTML page (server-rendered, no external assets).

An enterprise reads its own report; administrators and auditors read every report, and the
province-wide one. Both are folded from the event log on each request
(`registry.compliance`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import HTMLResponse, Response

from api.deps import Auditor, OwnEnterprise, RegistryDep
from api.schemas.common import Out, TermOut
from registry.compliance import enterprise_csv, enterprise_html, province_csv, province_html

router = APIRouter(tags=["reports"])
CSV = "text/csv; charset=utf-8"
Format = Annotated[Literal["json", "csv", "html"], Query()]
YearPath = Annotated[int, Path(ge=2000, le=2100)]


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


FORMATS: dict[int | str, dict[str, Any]] = {200: {
    "content": {"text/csv": {"schema": {"type": "string"}},
                "text/html": {"schema": {"type": "string"}}},
    "description": "`?format=csv`: one line per figure with its positions; `?format=html`: "
                   "a printable page."}}


@router.get("/reports/{code}/{year}/compliance", response_model=ComplianceReport,
            responses=FORMATS)
def compliance_report(code: OwnEnterprise, registry: RegistryDep, year: YearPath,
                      format: Format = "json") -> ComplianceReport | Response:
    """Per kind, for compliance year ``year``: confirmed right, post-retrofit level,
    obligation target, achieved and remaining, surplus issued, sold, bought, used, expired and
    revoked, each ``{"amount", "positions"}``."""
    report = registry.compliance_report(enterprise=code, year=year)
    if format == "csv":
        return Response(enterprise_csv(report), media_type=CSV)
    if format == "html":
        return HTMLResponse(enterprise_html(report))
    return ComplianceReport.model_validate(report)


@router.get("/province-reports/{year}", response_model=ProvinceReport, responses=FORMATS)
def province_report(_: Auditor, registry: RegistryDep, year: YearPath,
                    format: Format = "json") -> ProvinceReport | Response:
    """Per kind and trading zone, the units of vintage ``year``: issued, traded inside the
    zone and in every state, with ``conserved`` per zone, ``cross_zone_transfers`` and
    ``proved`` (no zone's total rose through trading)."""
    report = registry.province_report(year=year)
    if format == "csv":
        return Response(province_csv(report), media_type=CSV)
    if format == "html":
        return HTMLResponse(province_html(report))
    return ProvinceReport.model_validate(report)

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
from api.schemas.compliance import ComplianceReport, ProvinceReport
from registry.compliance import enterprise_csv, enterprise_html, province_csv, province_html

router = APIRouter(tags=["reports"])
CSV = "text/csv; charset=utf-8"
Format = Annotated[Literal["json", "csv", "html"], Query()]
YearPath = Annotated[int, Path(ge=2000, le=2100)]


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
    report = registry.compliance.compliance_report(enterprise=code, year=year)
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
    report = registry.compliance.province_report(year=year)
    if format == "csv":
        return Response(province_csv(report), media_type=CSV)
    if format == "html":
        return HTMLResponse(province_html(report))
    return ProvinceReport.model_validate(report)

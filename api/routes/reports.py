"""Annual cleaner-production performance reports per enterprise, as JSON or CSV.

An enterprise reads its own; administrators and auditors read every enterprise's.
The report comes from totals kept as the event log grows (``Registry.annual_report``).
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from api.deps import OwnEnterprise, RegistryDep
from api.schemas.reports import AnnualReport

router = APIRouter(prefix="/reports", tags=["reports"])

CSV = "text/csv; charset=utf-8"


@router.get("/{code}/{year}", response_model=AnnualReport, responses={
    200: {"content": {"text/csv": {"schema": {"type": "string"}}},
          "description": "The report; `?format=csv` gives one CSV line per indicator kind."}})
def annual_report(code: OwnEnterprise, registry: RegistryDep,
                  year: Annotated[int, Path(ge=2000, le=2100)],
                  format: Annotated[Literal["json", "csv"], Query()] = "json",
                  ) -> AnnualReport | Response:
    """Per indicator kind: verified reduction, units issued, sold, bought, consumed, expired
    and revoked in ``year`` (kg; kgce for ENERGY)."""
    report = registry.queries.annual_report(enterprise=code, year=year)
    if format == "csv":
        return Response(registry.queries.report_csv(report), media_type=CSV)
    return AnnualReport.model_validate(report)

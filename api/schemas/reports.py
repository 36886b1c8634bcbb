"""The request and response bodies of ``api.routes.reports``."""

from __future__ import annotations

from api.schemas.common import Out


class ReportRow(Out):
    kind: str
    verified_reduction: int
    issued: int
    sold: int
    bought: int
    consumed: int
    expired: int
    revoked: int


class AnnualReport(Out):
    enterprise: str
    year: int
    unit: str
    rows: list[ReportRow]

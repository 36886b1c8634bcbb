"""The request and response bodies of ``api.routes.audit``."""

from __future__ import annotations

from api.schemas.common import Balance, Out, TermOut


class Position(Out):
    position: int
    ledger_size: int


class BalancesAsOf(Out):
    as_of: int
    items: list[Balance]
    offset: int
    limit: int
    total: int


class InstrumentTotals(Out):
    instrument: str
    kind: str
    vintage: int
    zone: str
    term: TermOut
    issued: int
    available: int
    reserved: int
    consumed: int
    retired: int
    expired: int
    revoked: int

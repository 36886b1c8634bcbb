"""Auditors' views (auditors and administrators): the log position, balances as of any past
position (rebuilt by replaying the event log up to it), and per-instrument totals whose states
must add up to the units issued."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import Auditor, Page, PageDep, RegistryDep, StateDep, paginate
from api.schemas.audit import BalancesAsOf, InstrumentTotals, Position
from api.schemas.common import CREDIT_CODE_PATTERN, Balance, TermOut
from domain.errors import InvalidInput

router = APIRouter(prefix="/audit", tags=["audit"])


@router.get("/position")
def position(_: Auditor, state: StateDep) -> Position:
    """The event log's position and the ledger's size once it has caught up with it."""
    ledger = state.caught_up()
    return Position(position=state.registry.queries.position(), ledger_size=ledger.size)


@router.get("/balances")
def balances(
    _: Auditor, registry: RegistryDep, page: PageDep,
    as_of: Annotated[int | None, Query(ge=0, le=2**62)] = None,
    enterprise: Annotated[str | None, Query(pattern=CREDIT_CODE_PATTERN)] = None,
) -> BalancesAsOf:
    """Units per enterprise and instrument by state as of log position ``as_of`` (default:
    now), optionally of one enterprise."""
    current = registry.queries.position()
    if as_of is not None and as_of > current:
        raise InvalidInput(f"as_of {as_of} is beyond the log's position {current}")
    rows = registry.queries.balances(enterprise=enterprise, as_of=as_of)
    chosen = rows[page.offset:page.offset + page.limit]
    return BalancesAsOf(as_of=current if as_of is None else as_of,
                        items=[Balance.of(r) for r in chosen], offset=page.offset,
                        limit=page.limit, total=len(rows))


@router.get("/instruments")
def instruments(_: Auditor, registry: RegistryDep, page: PageDep) -> Page[InstrumentTotals]:
    """Every instrument with its units by state; the states add up to ``issued``."""
    totals = [InstrumentTotals(instrument=i.code, kind=i.kind, vintage=i.vintage, zone=i.zone,
                               term=TermOut(**i.term.view()), issued=i.issued(),
                               **i.totals())
              for i in sorted(registry.queries.instruments(), key=lambda x: x.code)]
    return paginate(totals, page)

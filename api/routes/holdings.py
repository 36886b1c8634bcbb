"""Holdings, transfers, holds, retirements, freezes, the expiry run and serial provenance.

- ``/holdings/{code}…`` belongs to enterprise ``code``: it reads and acts on its own holdings
  only (another's answers 404); administrators act for any enterprise, auditors read.
- Holds (reservations made here) are scoped to the enterprise (``registry.holds``): this API
  never releases units the exchange, an agreement, an auction or an expansion has reserved.
- Freezes and the expiry run are administrators' (403 for everyone else).
- A serial's provenance is readable by administrators and auditors, and by the parties it
  names: the issuing enterprise, every seller, buyer and holder in its history, and the
  agencies that audited or verified its retrofit. Anyone else gets 404, as for an unknown
  serial: a unit's chain of custody is commercial information of the parties in it.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response, status

from api.auth import CurrentUser
from api.deps import (
    Administrator,
    OwnEnterprise,
    Page,
    PageDep,
    RegistryDep,
    StateDep,
    acting_for,
    not_found,
    now,
    paginate,
)
from api.ledger_refs import all_recorded, with_ledger
from api.reruns import is_rerun, stored_transfer
from api.routes.proposals import proposed
from api.schemas.common import INSTRUMENT_PATTERN, SERIAL_PATTERN, Balance
from api.schemas.holdings import (
    ExpiryPublic,
    ExpiryRun,
    FreezeCreate,
    HoldCreate,
    Holding,
    HoldPublic,
    HoldRecorded,
    HoldRelease,
    RetirementCreate,
    RetirementPublic,
    TransferCreate,
    TransferPublic,
    Unfreeze,
)
from api.schemas.proposals import ProposalPublic
from api.schemas.trades import Receipt
from domain.errors import AlreadyExists, InvalidInput, NotFound
from registry import directory, holds

# Full paths, no prefix: the administrators' actions and serial lookups live beside
# /holdings/{code}, not under it, so that no fixed path (e.g. "freezes") is also a credit code.
router = APIRouter(tags=["holdings"])

InstrumentPath = Annotated[str, Path(pattern=INSTRUMENT_PATTERN, description="KIND-VINTAGE-ZONE")]
SerialPath = Annotated[str, Path(pattern=SERIAL_PATTERN,
                                 description="KIND-VINTAGE-ZONE-NNNNNNNNN")]


# -- administrators' actions and serial provenance --------------------------------------------


@router.post("/freezes", status_code=202)
def freeze(body: FreezeCreate, user: Administrator, registry: RegistryDep, state: StateDep,
           response: Response) -> ProposalPublic:
    """Propose freezing an owner's available units under a freeze order (administrators;
    four eyes). Approval answers the quantity frozen."""
    registry.instrument(body.instrument)
    registry.enterprise(body.owner)
    return proposed(state, response, user.actor, "freeze", instrument=body.instrument,
                    owner=body.owner, ref=body.ref, reason=body.reason,
                    quantity=body.quantity)


@router.post("/unfreezes", status_code=202)
def unfreeze(body: Unfreeze, user: Administrator, registry: RegistryDep, state: StateDep,
             response: Response) -> ProposalPublic:
    """Propose lifting a freeze order (administrators; four eyes); on approval 404 when
    nothing is frozen under it."""
    registry.instrument(body.instrument)
    return proposed(state, response, user.actor, "unfreeze", instrument=body.instrument,
                    ref=body.ref)


@router.post("/expiry-runs")
def expiry(body: ExpiryRun, _: Administrator, state: StateDep) -> ExpiryPublic:
    """Expire, in one atomic write, every unit whose validity ended before ``as_of``
    (administrators)."""
    at = now()
    today = date.fromisoformat(at[:10])
    as_of = body.as_of or today
    if as_of > today:
        raise InvalidInput(f"as_of {as_of} lies in the future; units stay valid until then")
    before = state.registry.queries.position()
    expired = state.registry.holdings.expire(as_of=as_of.isoformat(), at=at)
    refs = all_recorded(state, before, subject_type="expiry", subject=as_of.isoformat(),
                        event="Expired")
    return ExpiryPublic(as_of=as_of.isoformat(), expired=expired,
                        ledger=refs[0] if refs else None, effects=refs)


@router.get("/serials/{serial}")
def provenance(serial: SerialPath, user: CurrentUser, registry: RegistryDep) -> dict[str, object]:
    """Everything about one unit: its retrofit, evidence hashes, agencies, every movement and
    its final state (as ``registry provenance``)."""
    try:
        p = registry.queries.provenance(serial)
    except NotFound:
        raise not_found(f"serial {serial}") from None
    if user.role not in ("administrator", "auditor") and \
            user.subject not in directory.provenance_parties(p):
        raise not_found(f"serial {serial}")
    return p


# -- one enterprise's holdings ------------------------------------------------------------------


@router.get("/holdings/{code}")
def holdings(code: OwnEnterprise, registry: RegistryDep, page: PageDep) -> Page[Balance]:
    """The enterprise's units per instrument by state (kg; kgce for ENERGY)."""
    return paginate([Balance.of(r) for r in directory.holdings(registry, code)], page)


@router.get("/holdings/{code}/instruments/{instrument}")
def holding(code: OwnEnterprise, instrument: InstrumentPath,
            registry: RegistryDep) -> Holding:
    """The enterprise's units in one instrument with their serial blocks."""
    row = directory.holding(registry, code, instrument)
    return Holding.model_validate({**row, "usable": row["available"] - row["frozen"]})


@router.post("/holdings/{code}/transfers", status_code=status.HTTP_201_CREATED)
def transfer(code: str, body: TransferCreate, user: Administrator,
             registry: RegistryDep, request: Request,
             state: StateDep) -> TransferPublic:
    """Move units to another enterprise outside the exchange's modes, for a non-trade reason
    (merger, court order, correction), recorded by an administrator: sales go through the
    order book, agreements or auctions, delivery versus payment. The response names the
    trading-rule version applied and the event's log position (for its ledger receipt). The
    ``ref`` is the seller's own: used again for the same instrument, it answers 409 and moves
    nothing (a retried request cannot move the units twice); a retry with the same
    Idempotency-Key after an in-doubt outcome answers the stored transfer (`api.reruns`)."""
    seller = code
    registry.enterprise(seller)  # 404 for an unknown enterprise
    try:
        version, position = holds.transfer(
            registry, instrument=body.instrument, seller=seller, buyer=body.buyer,
            quantity=body.quantity, ref=body.ref, at=now(), reason=body.reason,
            administrator=user.actor, from_hold=body.from_reservation)
    except AlreadyExists:
        found = None if not is_rerun(request) else stored_transfer(
            registry, instrument=body.instrument, seller=seller, buyer=body.buyer,
            quantity=body.quantity, ref=body.ref)  # the first run's own transfer (api.reruns)
        if found is None:
            raise
        version, position = found
    return with_ledger(TransferPublic(instrument=body.instrument, seller=seller,
                                      buyer=body.buyer, quantity=body.quantity, ref=body.ref,
                                      rule_version=version, position=position),
                       state, (position or 1) - 1, subject_type="transfer", subject=body.ref,
                       event="Transferred",
                       receipt=f"/holdings/{seller}/receipts/{position}", as_=TransferPublic)


@router.get("/holdings/{code}/receipts/{position}")
def receipt(code: OwnEnterprise, position: Annotated[int, Path(ge=1, le=2**62)],
            registry: RegistryDep, state: StateDep) -> Receipt:
    """The ledger receipt of a holding event the enterprise is party to (a transfer's
    ``position``; also retirements, freezes, consumption): ledger index, leaf, inclusion proof
    and the checkpoint covering it. Another's event, or none, answers 404."""
    found = directory.holding_event_at(registry, position)
    if found is None or code not in found[2]:
        raise not_found(f"holding event of {code} at position {position}")
    return Receipt(**state.receipt(position))  # the leaf's first (most specific) subject


@router.post("/holdings/{code}/reservations", status_code=status.HTTP_201_CREATED)
def reserve(code: str, body: HoldCreate, user: CurrentUser, registry: RegistryDep,
            state: StateDep) -> HoldRecorded:
    """Set units aside under the enterprise's own reference (a listing, a pending deal)."""
    owner = acting_for(user, code)
    before = registry.queries.position()
    holds.reserve(registry, instrument=body.instrument, owner=owner, quantity=body.quantity,
                  ref=body.ref, at=now())
    return with_ledger(HoldPublic(instrument=body.instrument, ref=body.ref,
                                  quantity=body.quantity), state, before,
                       subject_type="reservation", subject=holds.hold_ref(owner, body.ref),
                       event="Reserved",
                       as_=HoldRecorded)


@router.post("/holdings/{code}/releases")
def release(code: str, body: HoldRelease, user: CurrentUser,
            registry: RegistryDep, state: StateDep) -> HoldRecorded:
    """Return held units to available; 404 when the enterprise holds nothing under ``ref``."""
    owner = acting_for(user, code)
    before = registry.queries.position()
    n = holds.release(registry, instrument=body.instrument, owner=owner, ref=body.ref,
                      quantity=body.quantity, at=now())
    return with_ledger(HoldPublic(instrument=body.instrument, ref=body.ref, quantity=n), state,
                       before, subject_type="reservation",
                       subject=holds.hold_ref(owner, body.ref), event="Released",
                       as_=HoldRecorded)


@router.post("/holdings/{code}/retirements", status_code=status.HTTP_201_CREATED)
def retire(code: str, body: RetirementCreate, user: CurrentUser,
           registry: RegistryDep, state: StateDep) -> RetirementPublic:
    """Give units up for good (voluntary cancellation)."""
    owner = acting_for(user, code)
    before = registry.queries.position()
    registry.holdings.retire(instrument=body.instrument, owner=owner, quantity=body.quantity,
                             reason=body.reason, at=now())
    return with_ledger(RetirementPublic(instrument=body.instrument, owner=owner,
                                        quantity=body.quantity, reason=body.reason),
                       state, before, subject_type="enterprise", subject=owner,
                       event="Retired", as_=RetirementPublic)


"""Agreement transfers: a seller offers units to a named buyer at a price, the buyer accepts,
an administrator verifies, and the trade settles delivery-versus-payment.

The seller's units are reserved at the offer, the buyer's cash at acceptance; withdrawal (the
seller, before acceptance), declining (the buyer) or rejection (an administrator) releases
them. Four eyes: the verifying administrator offered and accepted nothing of it (the registry
enforces it; 403 otherwise). Only the two parties, administrators and auditors see an
agreement; anyone else gets 404.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response, status

from api.auth import CurrentUser
from api.deps import (
    Administrator,
    Page,
    PageDep,
    RegistryDep,
    StateDep,
    acting_for,
    not_found,
    now,
)
from api.errors import ApiError
from api.ledger_refs import with_ledger
from api.routes.representatives import REQUESTED, RequestPublic, requested
from api.schemas.agreements import (
    REFERENCE,
    Agreement,
    AgreementRecorded,
    Offer,
    Reason,
    States,
    Step,
)
from api.schemas.trades import Receipt
from api.state import AppState
from api.tokens import Principal
from domain.errors import NotFound
from domain.exchange.agreement import Agreement as AgreementAggregate
from registry.bootstrap import Registry

router = APIRouter(prefix="/agreements", tags=["agreements"])
ReferencePath = Annotated[str, Path(pattern=REFERENCE, max_length=64)]


def _out(a: AgreementAggregate) -> Agreement:
    return Agreement(reference=a.reference, instrument=a.instrument, seller=a.seller,
                     buyer=a.buyer, price=a.price, quantity=a.qty, amount=a.amount,
                     state=a.state,  # type: ignore[arg-type]  # one of the five, a str
                     offered_by=a.offered_by, accepted_by=a.accepted_by,
                     history=[Step.model_validate(h) for h in a.history])


def _party(user: Principal) -> bool:
    return user.role in ("administrator", "auditor")


def _visible(registry: Registry, user: Principal, reference: str) -> AgreementAggregate:
    try:
        a = registry.exchange_modes.agreement(reference)
    except NotFound:
        raise not_found(f"agreement {reference}") from None
    if not (_party(user) or (user.role == "enterprise" and user.subject in (a.seller, a.buyer))):
        raise not_found(f"agreement {reference}")
    return a


@router.post("", status_code=status.HTTP_201_CREATED, responses=REQUESTED)
def offer(body: Offer, user: CurrentUser, registry: RegistryDep, state: StateDep,
          response: Response) -> AgreementRecorded | RequestPublic:
    """Offer units to a named buyer (the seller's units are reserved now). Offered by a
    representative of a seller that requires a second representative (the default), it is
    a request (202): the offer is made when a second representative confirms it
    (`/enterprises/{code}/requests/{id}/confirm`); until then nothing is reserved."""
    seller = acting_for(user, body.seller)
    reference = body.reference or f"AG-{uuid.uuid4().hex[:20]}"
    if user.role == "enterprise" and registry.enterprise(seller).needs_second_representative:
        return requested(state, response, user, "offer_agreement", reference=reference,
                         instrument=body.instrument, seller=seller, buyer=body.buyer,
                         price=body.price, qty=body.quantity)
    before = registry.queries.position()
    a = registry.exchange_modes.offer_agreement(reference=reference, instrument=body.instrument,
                                                seller=seller, buyer=body.buyer, price=body.price,
                                                qty=body.quantity, offered_by=user.actor, at=now())
    return _recorded(_out(a), state, before, "Offered")


@router.get("")
def list_agreements(user: CurrentUser, registry: RegistryDep, state: StateDep, page: PageDep,
                    state_: Annotated[States | None, Query(alias="state")] = None,
                    ) -> Page[Agreement]:
    """The caller's agreements (as seller or buyer), newest first; administrators and
    auditors see all."""
    if user.role not in ("enterprise", "administrator", "auditor"):
        raise ApiError(403, "forbidden", "this needs the role enterprise, administrator or "
                                         "auditor")
    data = state.market_view()
    with data.lock:
        refs = [r for r, a in data.agreements.items()
                if _party(user) or user.subject in (a["seller"], a["buyer"])]
    if state_ is not None:  # load only those in that state now (`registry.pending`)
        now_in = registry.states.of(registry, [AgreementAggregate.create_id(r) for r in refs])
        refs = [r for r, s in zip(refs, now_in, strict=True) if s == state_]
    found = [_out(registry.exchange_modes.agreement(r)) for r in reversed(refs)]
    found = [a for a in found if state_ in (None, a.state)]
    return Page[Agreement](items=found[page.offset:page.offset + page.limit],
                           offset=page.offset, limit=page.limit, total=len(found))


@router.get("/{reference}")
def get_agreement(reference: ReferencePath, user: CurrentUser,
                  registry: RegistryDep) -> Agreement:
    return _out(_visible(registry, user, reference))


@router.post("/{reference}/accept")
def accept(reference: ReferencePath, user: CurrentUser, registry: RegistryDep,
           state: StateDep) -> AgreementRecorded:
    """The buyer accepts (its cash is reserved now)."""
    a = _visible(registry, user, reference)
    if user.role == "enterprise" and user.subject != a.buyer:
        raise ApiError(403, "forbidden", "only the buyer may accept")
    buyer = acting_for(user, a.buyer if user.role == "administrator" else None)
    before = registry.queries.position()
    registry.exchange_modes.accept_agreement(reference=reference, buyer=buyer,
                                             accepted_by=user.actor, at=now())
    return _recorded(_out(registry.exchange_modes.agreement(reference)), state, before, "Accepted")


@router.post("/{reference}/verify")
def verify(reference: ReferencePath, user: Administrator, registry: RegistryDep,
           state: StateDep) -> AgreementRecorded:
    """An administrator who took no part verifies; the trade settles delivery-versus-payment."""
    before = registry.queries.position()
    registry.exchange_modes.verify_agreement(
        reference=reference, administrator=user.actor, at=now())
    return _recorded(_out(registry.exchange_modes.agreement(reference)), state, before, "Settled")


def _recorded(out: Agreement, state: AppState, before: int,
              event: str) -> AgreementRecorded:
    return with_ledger(out, state, before, subject_type="agreement", subject=out.reference,
                       event=event, receipt=f"/agreements/{out.reference}/receipt",
                       as_=AgreementRecorded)


def _end(registry: Registry, state: AppState, user: Principal, reference: str, how: str,
         reason: str, party: str | None) -> AgreementRecorded:
    a = _visible(registry, user, reference)
    if party is not None and user.role == "enterprise" and user.subject != getattr(a, party):
        raise ApiError(403, "forbidden", f"only the {party} may do this")
    before = registry.queries.position()
    registry.exchange_modes.end_agreement(reference=reference, state=how, by=user.actor,
                                          reason=reason, at=now())
    return _recorded(_out(registry.exchange_modes.agreement(reference)), state, before, "Ended")


@router.post("/{reference}/withdraw")
def withdraw(reference: ReferencePath, body: Reason, user: CurrentUser,
             registry: RegistryDep, state: StateDep) -> AgreementRecorded:
    """The seller withdraws its offer before acceptance (its units are released)."""
    if user.role not in ("enterprise", "administrator"):
        raise ApiError(403, "forbidden", "this needs the role enterprise or administrator")
    return _end(registry, state, user, reference, "withdrawn", body.reason, "seller")


@router.post("/{reference}/decline")
def decline(reference: ReferencePath, body: Reason, user: CurrentUser,
            registry: RegistryDep, state: StateDep) -> AgreementRecorded:
    """The buyer declines an offer (the seller's units are released)."""
    if user.role != "enterprise":
        raise ApiError(403, "forbidden", "this needs the role enterprise")
    return _end(registry, state, user, reference, "rejected", body.reason, "buyer")


@router.post("/{reference}/reject")
def reject(reference: ReferencePath, body: Reason, user: Administrator,
           registry: RegistryDep, state: StateDep) -> AgreementRecorded:
    """An administrator rejects it before settlement; every reservation is released."""
    return _end(registry, state, user, reference, "rejected", body.reason, None)


@router.get("/{reference}/receipt")
def receipt(reference: ReferencePath, user: CurrentUser, registry: RegistryDep,
            state: StateDep) -> Receipt:
    """The ledger receipt of the agreement's latest event (``Settled`` once settled)."""
    _visible(registry, user, reference)
    data = state.market_view()
    with data.lock:
        events: dict[str, Any] = dict(data.agreements[reference]["events"])
    event = "Settled" if "Settled" in events else max(events, key=events.__getitem__)
    return Receipt(**state.receipt(events[event], subject_type="agreement", subject=reference))

"""Confirmed rights (核定排污权 / 用能权): administrators confirm an enterprise's annual right per
kind from its permit or quota; the enterprise, administrators and auditors read them, with
every change (retrofit level, sale, purchase, expansion use, revocation) and its time."""

from __future__ import annotations

from fastapi import APIRouter, status

from api.deps import Administrator, OwnEnterprise, RegistryDep, StateDep, now
from api.ledger_refs import with_ledger
from api.schemas.rights import RightConfirm, RightPublic, RightRecorded
from registry.rights import right_view

router = APIRouter(prefix="/enterprises", tags=["confirmed rights"])


@router.post("/{code}/rights", status_code=status.HTTP_201_CREATED)
def confirm_right(code: str, body: RightConfirm, user: Administrator,
                  state: StateDep) -> RightRecorded:
    """Confirm (or, with a new permit, re-confirm) the enterprise's annual right for a kind
    (kg a year; kgce a year for ENERGY) with the permit's number and term."""
    registry, before = state.registry, state.registry.queries.position()
    right = registry.rights.confirm_right(enterprise=code, kind=body.kind, quantity=body.quantity,
                                          permit=body.permit, valid_from=body.valid_from,
                                          valid_until=body.valid_until, actor=user.actor, at=now())
    out = RightPublic.model_validate(right_view(right))
    return with_ledger(out, state, before, subject_type="confirmed_right",
                       subject=f"{out.enterprise}/{out.kind}", event="Confirmed",
                       as_=RightRecorded)


@router.get("/{code}/rights")
def list_rights(code: OwnEnterprise, registry: RegistryDep) -> list[RightPublic]:
    """The enterprise's confirmed rights, one per kind, each with its history."""
    return [RightPublic.model_validate(right_view(r)) for r in registry.rights.rights_of(code)]

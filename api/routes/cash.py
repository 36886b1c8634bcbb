"""Cash accounts: one CNY account per enterprise, in integer fen.

Administrators record deposits and withdrawals, each under a unique payment reference (the
same reference twice is refused with 409, so a retried request cannot double-credit). An
enterprise sees its own account only; administrators and auditors see every account.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from api.deps import Administrator, OwnEnterprise, Page, PageDep, RegistryDep, StateDep, paginate
from api.routes.proposals import proposed
from api.schemas.cash import Account, Movement, Record
from api.schemas.proposals import ProposalPublic
from domain.errors import NotFound
from registry.bootstrap import Registry

router = APIRouter(prefix="/cash", tags=["cash"])


def _account(registry: Registry, code: str) -> Account:
    registry.enterprise(code)  # 404 for an unknown enterprise
    try:
        a = registry.exchange.cash_account(code)
    except NotFound:  # no money recorded yet: an empty account, not an error
        return Account(enterprise=code, balance=0, reserved=0, available=0, deposited=0,
                       withdrawn=0)
    return Account(enterprise=code, balance=a.balance, reserved=a.reserved,
                   available=a.available(), deposited=a.deposited, withdrawn=a.withdrawn)


@router.get("/{code}")
def get_account(code: OwnEnterprise, registry: RegistryDep) -> Account:
    """The enterprise's balance, reserved and available cash (own, administrators, auditors)."""
    return _account(registry, code)


def _movement(event: Any) -> Movement | None:
    name = type(event).__name__
    if name in ("Deposited", "Withdrawn"):
        return Movement(version=event.originator_version, event=name, reference=event.reference,
                        at=event.at, **{name.lower(): event.amount})
    if name == "Posted":
        return Movement(version=event.originator_version, event=name, reference=event.ref,
                        at=event.at, reserved=event.reserved, paid=event.paid,
                        released=event.released, received=event.received)
    return None


@router.get("/{code}/movements")
def movements(code: OwnEnterprise, registry: RegistryDep, page: PageDep) -> Page[Movement]:
    """Every movement of the account, newest first: deposits, withdrawals and the exchange's
    postings (reserved, paid, released, received)."""
    try:
        account_id = registry.exchange.cash_account(code).id
    except NotFound:
        registry.enterprise(code)
        return paginate([], page)
    found = [m for m in map(_movement, registry.events.get(account_id)) if m is not None]
    return paginate(found[::-1], page)


@router.post("/{code}/deposits", status_code=202)
def deposit(code: str, body: Record, user: Administrator, registry: RegistryDep, state: StateDep,
            response: Response) -> ProposalPublic:
    """Propose a deposit (administrators); it is recorded when a second administrator
    approves it (``/proposals/{id}/approve`` answers the new balance)."""
    registry.enterprise(code)
    return proposed(state, response, user.actor, "deposit", enterprise=code,
                    amount=body.amount, reference=body.reference)


@router.post("/{code}/withdrawals", status_code=202)
def withdraw(code: str, body: Record, user: Administrator, registry: RegistryDep, state: StateDep,
             response: Response) -> ProposalPublic:
    """Propose a withdrawal of available cash (administrators); on approval 409 if the cash
    is not available then."""
    registry.exchange.cash_account(code)
    return proposed(state, response, user.actor, "withdraw", enterprise=code,
                    amount=body.amount, reference=body.reference)

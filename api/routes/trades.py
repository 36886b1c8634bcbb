"""Trades: an enterprise's own trades, the administrators' verification queue, and receipts.

A trade above the market's verification threshold, or one that failed an automated check at
matching, waits in the queue with the seller's units and the buyer's cash reserved. Approval
needs an administrator who initiated none of it (neither order nor the market parameters in
force; the registry enforces it, 403 otherwise); approval re-runs the automated checks and
settles delivery-versus-payment. Rejection releases the reservations.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from api.auth import CurrentUser
from api.deps import (
    Administrator,
    Auditor,
    Page,
    PageDep,
    RegistryDep,
    StateDep,
    not_found,
    now,
    paginate,
)
from api.errors import ApiError
from api.ledger_refs import with_ledger
from api.schemas.markets import CreditCode
from api.schemas.trades import Queued, Receipt, Rejection, Trade, TradeIdPath, TradeRecorded
from api.state import AppState
from api.tokens import Principal
from registry.market_data import MarketData

router = APIRouter(prefix="/trades", tags=["trades"])
States = Literal["settled", "pending", "rejected"]


def _trade(t: dict[str, Any]) -> Trade:
    return Trade.model_validate({k: t[k] for k in Trade.model_fields})


def _owned(data: MarketData, user: Principal, trade_id: str) -> dict[str, Any]:
    """The trade if the caller may see it: its buyer or seller, administrators, auditors."""
    with data.lock:
        t = data.trades.get(trade_id)
        t = None if t is None else dict(t)
    if t is None or not (user.role in ("administrator", "auditor") or (
            user.role == "enterprise" and user.subject in (t["buyer"], t["seller"]))):
        raise not_found(f"trade {trade_id}")
    return t


def _decided(state: AppState, user: Principal, trade_id: str, before: int,
             event: str) -> TradeRecorded:
    return with_ledger(_trade(_owned(state.market_view(), user, trade_id)), state, before,
                       subject_type="trade", subject=trade_id, event=event,
                       receipt=f"/trades/{trade_id}/receipt", as_=TradeRecorded)


@router.get("")
def list_trades(
    user: CurrentUser, state: StateDep, page: PageDep,
    instrument: Annotated[str | None, Query(max_length=60)] = None,
    account: Annotated[CreditCode | None, Query(description="administrators, auditors")] = None,
    state_: Annotated[States | None, Query(alias="state")] = None,
) -> Page[Trade]:
    """The caller's trades (as buyer or seller), newest first; administrators and auditors see
    every trade or one ``account``'s."""
    if user.role == "enterprise":
        if account not in (None, user.subject):
            raise not_found(f"trades of {account}")
        account = user.subject
    elif user.role not in ("administrator", "auditor"):
        raise ApiError(403, "forbidden", "this needs the role enterprise, administrator or "
                                         "auditor")
    rows = state.market_view().trades_of(account, instrument)
    return paginate([_trade(t) for t in reversed(rows) if state_ in (None, t["state"])], page)


@router.get("/queue")
def queue(_: Auditor, state: StateDep, page: PageDep) -> Page[Queued]:
    """Every trade waiting for an administrator, oldest first (administrators, auditors)."""
    data = state.market_view()
    with data.lock:
        waiting = [dict(t, instrument=code) for code, view in sorted(data.markets.items())
                   for t in view.market.pending.values()]
    items = [Queued(trade=t["trade"], instrument=t["instrument"], price=t["price"],
                    quantity=t["qty"], value=t["value"], buyer=t["buyer"], seller=t["seller"],
                    reasons=t["reasons"], initiators=t["initiators"], at=t["at"])
             for t in sorted(waiting, key=lambda t: (t["at"], t["trade"]))]
    return paginate(items, page)


def _instrument(trade_id: str) -> str:
    return trade_id.rsplit(":", 1)[0]


@router.post("/queue/{trade_id}/approve")
def approve(trade_id: TradeIdPath, user: Administrator, registry: RegistryDep,
            state: StateDep) -> TradeRecorded:
    """Approve and settle a waiting trade (four eyes: not an initiator of it)."""
    before = registry.queries.position()
    registry.exchange.approve_trade(instrument=_instrument(trade_id), trade_id=trade_id,
                                    administrator=user.actor, at=now())
    return _decided(state, user, trade_id, before, "TradeApproved")


@router.post("/queue/{trade_id}/reject")
def reject(trade_id: TradeIdPath, body: Rejection, user: Administrator, registry: RegistryDep,
           state: StateDep) -> TradeRecorded:
    """Reject a waiting trade: the seller's units and the buyer's cash are released."""
    before = registry.queries.position()
    registry.exchange.reject_trade(instrument=_instrument(trade_id), trade_id=trade_id,
                                   administrator=user.actor, reason=body.reason, at=now())
    return _decided(state, user, trade_id, before, "TradeRejected")


@router.get("/{trade_id}")
def get_trade(trade_id: TradeIdPath, user: CurrentUser, state: StateDep) -> Trade:
    return _trade(_owned(state.market_view(), user, trade_id))


@router.get("/{trade_id}/receipt")
def trade_receipt(trade_id: TradeIdPath, user: CurrentUser, state: StateDep) -> Receipt:
    """The ledger receipt of the event that settled the trade (``TradeApproved`` after a
    verification, else ``BatchMatched``); of ``TradeRejected`` for a rejected trade and of the
    matching ``BatchMatched`` while it is pending.

    A ``BatchMatched`` leaf is the whole group-committed batch, but it names each of its
    trades as a typed subject and seals every trade and order (``registry.leaves``): the
    receipt discloses this trade's own part only; the other trades and every order of the
    batch stay sealed."""
    t = _owned(state.market_view(), user, trade_id)
    if t["state"] == "rejected":
        position = t["rejected_position"]
    elif t["settled_position"] not in (None, t["position"]):
        position = t["settled_position"]
    else:
        position = t["position"]
    return Receipt(**state.receipt(position, subject_type="trade", subject=trade_id))

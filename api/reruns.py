"""Answering a request run again after its first outcome was in doubt.

The idempotency middleware runs a request again when its first run ended with the outcome
unknown, or its server died while running it (`api.idempotency`), and marks the scope
(``state["idempotent_rerun"]``). The writes clients retry most have natural keys, and the
domain refuses a second write under one: an order id (and a cancel of it), a deposit or
withdrawal reference, a seller's transfer reference, a proposal's approval. On a
rerun such a refusal means the first run's write *is* stored, so these helpers find it and the
route answers it as done, never as a refusal. Outside a rerun the refusal stands (a reused
reference without the key is the client's mistake, and 409 tells it so).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Request

from api.schemas.markets import Fill, OrderAck
from api.state import AppState
from domain.errors import NotFound
from domain.exchange.orders import Order
from domain.proposal import APPROVED, Proposal
from registry.app import instrument_id
from registry.bootstrap import Registry
from registry.directory import position_of
from registry.holds import TRANSFERRED
from registry.market_data import KINDS, SIDES

RERUN = "idempotent_rerun"


def is_rerun(request: Request) -> bool:
    """Whether this request is a retry of one whose first outcome was in doubt."""
    return bool(request.scope.get("state", {}).get(RERUN))


def stored_order(state: AppState, instrument: str, order: Order) -> OrderAck | None:
    """The acknowledgement of ``order`` as stored (the same account, side, kind, price and
    quantity under its id), or None if no such order is stored."""
    data = state.market_view()
    with data.lock:
        record = data.orders.get((instrument, order.order_id))
        if record is None or (record["account"], record["side"], record["kind"],
                              record["quantity"]) != (order.account, SIDES[order.side],
                                                      KINDS[order.kind], order.qty):
            return None
        if order.kind == "L" and record["price"] != order.price:
            return None
        fills = [Fill(trade=t["trade"], price=t["price"], quantity=t["quantity"],
                      state="pending" if t["state"] == "pending" else "settled")
                 for t in (data.trades[i] for i in data.by_account.get(order.account, []))
                 if t["instrument"] == instrument and t["taker"] == order.order_id]
        filled = sum(f.quantity for f in fills)
        resting = order.qty - filled if order.kind == "L" and record["status"] != "cancelled" \
            else 0
        return OrderAck(order_id=order.order_id, instrument=instrument, account=order.account,
                        status="accepted", fills=fills, filled=filled,
                        resting=max(0, min(resting, record["resting"] or resting)))


def stored_cancel(state: AppState, instrument: str, order_id: str,
                  account: str) -> OrderAck | None:
    """The acknowledgement of a cancel whose order is stored as cancelled, or None."""
    data = state.market_view()
    with data.lock:
        record = data.orders.get((instrument, order_id))
        if record is None or record["account"] != account or record["status"] != "cancelled":
            return None
    return OrderAck(order_id=order_id, instrument=instrument, account=account,
                    status="cancelled", fills=[], filled=0, resting=0)


def stored_cash_record(registry: Registry, enterprise: str, *, reference: str, amount: int,
                       kind: str) -> bool:
    """Whether a ``kind`` ('Deposited' or 'Withdrawn') of ``amount`` under ``reference`` is
    stored on the enterprise's account."""
    try:
        account_id = registry.exchange.cash_account(enterprise).id
    except NotFound:
        return False
    return any(_is(e, kind, reference, amount) for e in registry.events.get(account_id))


def _is(event: Any, kind: str, reference: str, amount: int) -> bool:
    return (type(event).__name__ == kind and getattr(event, "reference", None) == reference
            and getattr(event, "amount", None) == amount)


def stored_transfer(registry: Registry, *, instrument: str, seller: str, buyer: str,
                    quantity: int, ref: str) -> tuple[str, int] | None:
    """The rule version and log position of the transfer stored under the seller's ``ref``
    with this buyer and quantity, or None if there is none."""
    match = {"seller": seller, "buyer": buyer, "quantity": quantity, "ref": ref}
    try:
        aggregate_id = instrument_id(instrument)
    except Exception:  # an invalid code was refused before anything was written
        return None
    position = position_of(registry, aggregate_id=aggregate_id, topic=TRANSFERRED, after=0,
                           match=match)
    if position is None:
        return None
    (n,) = registry.recorder.select_notifications(position, 1)
    return str(registry.mapper.to_domain_event(n).rule_version), position


@dataclass(frozen=True)
class StoredApproval:
    """An approval found stored, with what its act answered then."""

    result: Any


def stored_approval(registry: Registry, proposal: Proposal, by: str) -> StoredApproval | None:
    """The approval of ``proposal`` by ``by`` as stored (its act ran in the same save), or None
    if it is not approved, or approved by someone else. A deposit or withdrawal answers the
    balance right after its own record, as the first run did; other acts answer the result
    their approval recorded."""
    if proposal.state != APPROVED or proposal.decided_by != by:
        return None
    if proposal.action in ("deposit", "withdraw"):
        return StoredApproval(_balance_after(registry, proposal.params,
                                             "Deposited" if proposal.action == "deposit"
                                             else "Withdrawn"))
    return StoredApproval(getattr(proposal, "result", None))


def _balance_after(registry: Registry, params: dict[str, Any], kind: str) -> int | None:
    try:
        account_id = registry.exchange.cash_account(params["enterprise"]).id
    except NotFound:
        return None
    for e in registry.events.get(account_id):
        if _is(e, kind, params["reference"], params["amount"]):
            then: Any = registry.repository.get(account_id, version=e.originator_version)
            return int(then.balance)
    return None

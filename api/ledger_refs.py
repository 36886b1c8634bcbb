"""Where a recorded action sits in the ledger: every write's response names its event's
log position, ledger index and receipt URL (``ledger`` in the response).

Routes read the log position before their command and hand the subject they know (a freeze
order's reference, a deposit's reference, a lot id…) to :func:`recorded`, which finds the
command's event among what was committed since by the typed subjects its leaf will carry
(``registry.leaves``). The ledger index is exact before the leaf is appended: the follower
appends every stored event in commit order, so it is the leaves so far plus the stored events
before it that are not leaves yet. Orders, amends and cancels need no search: the exchange's
save hands back the position of the batch that recorded them (:func:`order_batch_at`).
"""

from __future__ import annotations

from typing import TypeVar
from urllib.parse import quote

from pydantic import BaseModel

from api.schemas.ledger import LedgerRef
from api.state import AppState
from registry.receipts import find_approval, find_order_batch, iter_recorded


def recorded(state: AppState, before: int, *, subject_type: str, subject: str,
             event: str | None = None, receipt: str | None = None) -> LedgerRef | None:
    """The first event after log position ``before`` whose leaf names ``subject_type``
    ``subject`` (and is an ``event``, if given); None when there is none."""
    found = state.find_recorded(before, subject_type=subject_type, subject=subject, event=event)
    if found is None:
        return None
    return ref_at(state, *found, subject_type=subject_type, subject=subject, receipt=receipt)


def all_recorded(state: AppState, before: int, *, subject_type: str, subject: str,
                 event: str | None = None) -> list[LedgerRef]:
    """Every event after log position ``before`` whose leaf names ``subject_type``
    ``subject`` (and is an ``event``, if given), in log order: the leaves of an act that
    records several (an expiry run's per instrument, a round's opening and its draw)."""
    return [ref_at(state, position, name, subject_type=subject_type, subject=subject)
            for position, name in iter_recorded(state.follower, before,
                                                subject_type=subject_type, subject=subject,
                                                event=event)]


def ref_at(state: AppState, position: int, event: str, *, subject_type: str, subject: str,
           receipt: str | None = None) -> LedgerRef:
    """The reference of the event at ``position`` for its subject (receipt URL: ``receipt``,
    or the ledger's own receipts route for that subject)."""
    url = receipt or (f"/ledger/receipts/{position}?subject_type={quote(subject_type)}"
                      f"&subject={quote(subject, safe=':/')}")
    return LedgerRef(position=position, ledger_index=state.ledger_index(position), event=event,
                     subject_type=subject_type, subject=subject, receipt=url)


def order_recorded(state: AppState, before: int, *, instrument: str,
                   order_id: str) -> LedgerRef | None:
    """The batch leaf recording an order's request (acceptance, amendment, cancellation): the
    market's ``BatchMatched`` whose sealed ``ops`` hold it. Its receipt names the market only
    and discloses no op (an order is no typed subject of the leaf; an auditor's export opens
    every op); a fill's own receipt is its trade's (:func:`trade_at`)."""
    found = find_order_batch(state.follower, before, instrument=instrument, order_id=order_id)
    return None if found is None else ref_at(state, *found, subject_type="market",
                                             subject=instrument)


def order_batch_at(state: AppState, position: int, *, instrument: str) -> LedgerRef:
    """The batch leaf at ``position`` recording an order's request, as :func:`order_recorded`
    finds it: the position the exchange's save gave the market's ``BatchMatched``
    (`domain.exchange.orders.Outcome.position`), so nothing is searched for."""
    return ref_at(state, position, "BatchMatched", subject_type="market", subject=instrument)


def trade_at(batch: LedgerRef, trade_id: str) -> LedgerRef:
    """A fill's trade in the batch leaf that recorded it (the same position and ledger
    index), with the trade's own receipt."""
    return batch.model_copy(update={"subject_type": "trade", "subject": trade_id,
                                    "receipt": f"/trades/{quote(trade_id, safe=':')}/receipt"})


def approval_recorded(state: AppState, before: int, *, proposal_id: str,
                      approved_by: str) -> tuple[LedgerRef | None, list[LedgerRef]]:
    """The proposal's ``Approved`` leaf and the leaves of the act it took effect with (each
    for its leaf's first, most specific subject: the deposit, the freeze, the lot…)."""
    found = find_approval(state.follower, before, proposal_id=proposal_id,
                          approved_by=approved_by)
    if not found:
        return None, []
    *effects, (position, name) = found
    own = ref_at(state, position, name, subject_type="proposal", subject=proposal_id)
    return own, [_first_subject(state, p, n) for p, n in effects]


def _first_subject(state: AppState, position: int, event: str) -> LedgerRef:
    subject = state.first_subject(position)
    return ref_at(state, position, event, subject_type=subject.type, subject=subject.id)


Out = TypeVar("Out", bound=BaseModel)


def with_ledger(out: BaseModel, state: AppState, before: int, *, subject_type: str,
                subject: str, event: str | None = None, receipt: str | None = None,
                as_: type[Out]) -> Out:
    """``out`` as the write's response model ``as_``, its ``ledger`` field saying where the
    action's event sits."""
    ref = recorded(state, before, subject_type=subject_type, subject=subject, event=event,
                   receipt=receipt)
    return as_.model_validate({**out.model_dump(), "ledger": ref})

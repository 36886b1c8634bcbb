"""Where a recorded action sits in the ledger: every write's response names its event's
log position, ledger index and receipt URL (``ledger`` in the response).

Routes read the log position before their command and hand the subject they know (a freeze
order's reference, a deposit's reference, a lot id…) to :func:`recorded`, which finds the
command's event among what was committed since by the typed subjects its leaf will carry
(``registry.leaves``). The ledger index is exact before the leaf is appended: the follower
appends every stored event in commit order, so it is the leaves so far plus the stored events
before it that are not leaves yet.
"""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel

from api.schemas.ledger import LedgerRef
from api.state import AppState


def recorded(state: AppState, before: int, *, subject_type: str, subject: str,
             event: str | None = None, receipt: str | None = None) -> LedgerRef | None:
    """The first event after log position ``before`` whose leaf names ``subject_type``
    ``subject`` (and is an ``event``, if given); None when there is none."""
    found = state.find_recorded(before, subject_type=subject_type, subject=subject, event=event)
    if found is None:
        return None
    position, name = found
    url = receipt or (f"/ledger/receipts/{position}?subject_type={subject_type}"
                      f"&subject={subject}")
    return LedgerRef(position=position, ledger_index=state.ledger_index(position), event=name,
                     subject_type=subject_type, subject=subject, receipt=url)


Out = TypeVar("Out", bound=BaseModel)


def with_ledger(out: BaseModel, state: AppState, before: int, *, subject_type: str,
                subject: str, event: str | None = None, receipt: str | None = None,
                as_: type[Out]) -> Out:
    """``out`` as the write's response model ``as_``, its ``ledger`` field saying where the
    action's event sits."""
    ref = recorded(state, before, subject_type=subject_type, subject=subject, event=event,
                   receipt=receipt)
    return as_.model_validate({**out.model_dump(), "ledger": ref})

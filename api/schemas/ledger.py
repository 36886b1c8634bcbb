"""The ledger reference every recorded action's response carries (``api.ledger_refs``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class LedgerRef(BaseModel):
    """The ledger leaf recording an action and where to fetch its receipt."""

    model_config = ConfigDict(extra="forbid")
    position: int = Field(description="event-log position of the event that recorded it")
    ledger_index: int = Field(description="index of its leaf in the ledger")
    event: str = Field(description="the event type, e.g. Frozen, Deposited, Settled")
    subject_type: str
    subject: str
    receipt: str = Field(description="URL of its receipt (leaf, inclusion proof, checkpoint)")

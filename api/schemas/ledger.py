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


class InclusionProof(BaseModel):
    model_config = ConfigDict(extra="forbid")
    index: int
    size: int
    hashes: list[str]


class ConsistencyProof(BaseModel):
    model_config = ConfigDict(extra="forbid")
    old: int
    new: int
    hashes: list[str]


class MergeDelayOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    count: int = Field(description="events signed since the service started")
    p50_ms: float
    p99_ms: float = Field(description="over the last 100,000 events signed")
    max_ms: float


class LedgerStatus(BaseModel):
    model_config = ConfigDict(extra="forbid")
    size: int = Field(description="leaves appended")
    signed_size: int = Field(description="leaves under the latest signed checkpoint")
    sign_interval_ms: float
    merge_delay: MergeDelayOut = Field(
        description="how long committed events waited for a signed checkpoint: signing time "
                    "minus the event's timestamp")
    signing_error: str | None = Field(description="why the signer is not signing, if it is not")


class Entry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    index: int
    leaf: str

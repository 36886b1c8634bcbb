"""Public ledger endpoints: the latest checkpoint, the verifier key, and RFC 9162 proofs.

Proofs have the same JSON shape as ``registry ledger proof``: hashes in base64, leaf upward.
"""

from __future__ import annotations

import base64
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict

from api.auth import require
from api.state import AppState
from api.tokens import Principal
from domain.errors import InvalidInput

router = APIRouter(prefix="/ledger", tags=["ledger"])
Size = Annotated[int, Query(ge=0, le=2**62)]
MAX_ENTRIES = 1000


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


def _state(request: Request) -> AppState:
    state: AppState = request.app.state.registry_state
    return state


def _b64(hashes: list[bytes]) -> list[str]:
    return [base64.b64encode(h).decode("ascii") for h in hashes]


@router.get("/checkpoint", response_class=PlainTextResponse)
def checkpoint(request: Request) -> str:
    """The latest signed checkpoint (C2SP tlog-checkpoint signed note)."""
    note = _state(request).caught_up().latest_checkpoint()
    return note or ""


@router.get("/vkey", response_class=PlainTextResponse)
def vkey(request: Request) -> str:
    """The verifier key in signed-note form."""
    return _state(request).ledger.vkey + "\n"


@router.get("/proof/inclusion")
def inclusion(request: Request, index: Size, size: Size) -> InclusionProof:
    """Inclusion proof of leaf ``index`` in the tree of ``size`` leaves."""
    ledger = _state(request).caught_up()
    if not index < size <= ledger.size:
        raise InvalidInput(f"need index < size <= {ledger.size}, got index={index} size={size}")
    return InclusionProof(index=index, size=size,
                          hashes=_b64(ledger.inclusion_proof(index, size)))


@router.get("/proof/consistency")
def consistency(request: Request, old: Size, new: Size) -> ConsistencyProof:
    """Consistency proof between the trees of ``old`` and ``new`` leaves."""
    ledger = _state(request).caught_up()
    if not 0 < old <= new <= ledger.size:
        raise InvalidInput(f"need 0 < old <= new <= {ledger.size}, got old={old} new={new}")
    return ConsistencyProof(old=old, new=new, hashes=_b64(ledger.consistency_proof(old, new)))


class Entry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    index: int
    leaf: str


@router.get("/entries")
def entries(
    request: Request,
    _: Annotated[Principal, Depends(require("auditor", "administrator"))],
    start: Size = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_ENTRIES)] = 100,
) -> list[Entry]:
    """Leaves ``start`` … ``start + limit - 1`` as in ``entries.jsonl`` (auditors and
    administrators)."""
    ledger = _state(request).caught_up()
    end = min(ledger.size, start + limit)
    return [Entry(index=i, leaf=base64.b64encode(ledger.leaf(i)).decode("ascii"))
            for i in range(start, end)]

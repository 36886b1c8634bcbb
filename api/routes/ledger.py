"""Public ledger endpoints: the latest checkpoint, the verifier key, and RFC 9162 proofs.

Proofs have the same JSON shape as ``registry ledger proof``: hashes in base64, leaf upward.
"""

from __future__ import annotations

import base64
import json
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import PlainTextResponse, Response

from api.auth import require
from api.deps import CurrentUser
from api.schemas.ledger import ConsistencyProof, Entry, InclusionProof, LedgerStatus, MergeDelayOut
from api.schemas.trades import Receipt
from api.state import AppState
from api.tokens import Principal
from domain.errors import InvalidInput, NotFound
from ledger.tiles import TileError, parse_tile_path
from registry.leaves import subjects_of

router = APIRouter(prefix="/ledger", tags=["ledger"])
Size = Annotated[int, Query(ge=0, le=2**62)]
MAX_ENTRIES = 1000


def _state(request: Request) -> AppState:
    state: AppState = request.app.state.registry_state
    return state


def _b64(hashes: list[bytes]) -> list[str]:
    return [base64.b64encode(h).decode("ascii") for h in hashes]


@router.get("/checkpoint", response_class=PlainTextResponse)
def checkpoint(request: Request, response: Response) -> str:
    """The latest signed checkpoint (C2SP tlog-checkpoint signed note); also the
    ``<prefix>/checkpoint`` of the C2SP tlog-tiles log at prefix ``/ledger``."""
    note = _state(request).caught_up().latest_checkpoint()
    response.headers["Cache-Control"] = "max-age=1"  # mutable: seconds at most
    return note or ""


_TILE_TYPE = "application/octet-stream"
_IMMUTABLE = {"Cache-Control": "public, max-age=31536000, immutable"}


def _tile(request: Request, path: str) -> Response:
    try:
        tile = parse_tile_path(path)
        data = _state(request).ledger.tile(tile)
    except TileError as e:
        raise NotFound(str(e)) from None
    return Response(content=data, media_type=_TILE_TYPE, headers=_IMMUTABLE)


@router.get("/tile/entries/{path:path}", response_class=Response,
            responses={200: {"content": {_TILE_TYPE: {}}}})
def entry_bundle(request: Request, path: str,
                 _: Annotated[Principal, Depends(require("auditor", "administrator"))]
                 ) -> Response:
    """A C2SP tlog-tiles entry bundle (``<N>[.p/<W>]``): the leaves, each a big-endian uint16
    length and its bytes. Auditors and administrators only: a leaf of a single-party event
    holds its payload (the hash tiles and the checkpoint are public)."""
    return _tile(request, f"entries/{path}")


@router.get("/tile/{path:path}", response_class=Response,
            responses={200: {"content": {_TILE_TYPE: {}}}})
def hash_tile(request: Request, path: str) -> Response:
    """A C2SP tlog-tiles hash tile ``<L>/<N>[.p/<W>]`` within the latest signed checkpoint:
    256 (or ``W``) concatenated SHA-256 Merkle Tree Hashes; any tlog-tiles client verifies
    it against the checkpoint."""
    return _tile(request, path)


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


@router.get("/status")
def ledger_status(request: Request) -> LedgerStatus:
    """The continuous signer: leaves appended and signed, and the merge delay measured."""
    state = _state(request)
    signer = state.signer
    delay = signer.merge_delay() if signer is not None else None
    return LedgerStatus(
        size=state.ledger.size, signed_size=state.ledger.signed_size,
        sign_interval_ms=state.sign_interval * 1000,
        merge_delay=MergeDelayOut(
            count=delay.count if delay else 0, p50_ms=(delay.p50 if delay else 0) * 1000,
            p99_ms=(delay.p99 if delay else 0) * 1000, max_ms=(delay.max if delay else 0) * 1000),
        signing_error=None if signer is None or signer.last_error is None
        else str(signer.last_error))


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


#: subject types under which a leaf names the enterprise or agency it concerns
_PARTY_TYPES = {"enterprise": ("enterprise", "cash_account"), "agency": ("agency",)}
#: payload fields naming the parties of an event (public in its leaf)
_PARTY_FIELDS = ("owner", "seller", "buyer", "bidder", "agency", "enterprise")


@router.get("/receipts/{position}")
def receipt(
    request: Request,
    position: Annotated[int, Path(ge=1, le=2**62)],
    user: CurrentUser,
    subject_type: Annotated[str | None, Query(max_length=40)] = None,
    subject: Annotated[str | None, Query(max_length=200)] = None,
) -> Receipt:
    """The receipt of the event at log ``position``, for its typed subject ``subject_type`` /
    ``subject`` (default: the leaf's first). Administrators and auditors read any; an
    enterprise or agency only those whose leaf names it; anything else answers 404."""
    found = _state(request).receipt(position, subject_type=subject_type, subject=subject)
    if user.role not in ("administrator", "auditor"):
        record = json.loads(base64.b64decode(found["leaf"]))
        kinds = _PARTY_TYPES.get(user.role, ())
        payload = record.get("payload") or {}
        named = {s.get("id") for s in subjects_of(record) if s.get("type") in kinds}
        named |= {payload.get(k) for k in _PARTY_FIELDS if isinstance(payload.get(k), str)}
        if not kinds or user.subject not in named:
            # the very answer of a position with no leaf: another's event is no one's business
            raise NotFound(f"no ledger leaf for event-log position {position} yet")
    return Receipt(**found)

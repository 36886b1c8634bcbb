"""The auditor's pages of the console: the ledger over time, its entries, balances as of a
position, and receipts verified in the browser.

Every page needs a signed-in auditor (an administrator may look too); anyone else signed in
gets 403, and a visitor is sent to the sign-in page. The pages read the ledger and the registry
and render; nothing here changes state. The verification itself is the browser's
(``static/tlog.js``): it fetches a receipt, checks the checkpoint's Ed25519 signature
with the verifier key pinned in the page (WebCrypto), and the RFC 9162 inclusion and
consistency proofs with SHA-256, trusting nothing the server says about them.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from api.console.login import current_session
from api.console.pages import Paged
from api.console.render import page
from api.console.terms import N_
from api.deps import StateDep
from api.errors import ApiError
from registry.leaves import event_key, subjects_of

router = APIRouter(prefix="/console/auditor", include_in_schema=False)

READERS = ("auditor", "administrator")
ENTRIES_PER_PAGE = 50
#: tree heads shown on the checkpoints page (evenly spaced sizes up to the signed one)
HEADS = 8
PageNumber = Annotated[int, Query(alias="page", ge=1, le=1_000_000)]
Position = Annotated[int | None, Query(ge=0, le=2**62)]


def _auditor(request: Request) -> Response | None:
    """None for a signed-in auditor or administrator; a redirect to sign in otherwise (403
    for another role)."""
    session = current_session(request)
    if session is None:
        return RedirectResponse("/console/login", status_code=303)
    if session.principal.role not in READERS:
        raise ApiError(403, "forbidden", "the auditor's pages need the role auditor")
    return None


@dataclass(frozen=True)
class TreeHead:
    """The tree at ``size`` entries: its root, and the time its last entry was recorded."""

    size: int
    root: str  # base64
    recorded_at: str


@router.get("", response_class=HTMLResponse)
@router.get("/", response_class=HTMLResponse)
def checkpoints(request: Request, state: StateDep) -> Response:
    refused = _auditor(request)
    if refused is not None:
        return refused
    ledger = state.caught_up()
    note = ledger.latest_checkpoint() or ""
    signed = ledger.signed_size
    sizes = sorted({max(1, signed * n // HEADS) for n in range(1, HEADS + 1)}) if signed else []
    heads = [TreeHead(size=s, root=base64.b64encode(ledger.root(s)).decode("ascii"),
                      recorded_at=_record(ledger.leaf(s - 1)).get("timestamp", ""))
             for s in sizes]
    return page(request, "auditor/checkpoints.html", title=N_("Checkpoints over time"),
                note=note, heads=heads, vkey=ledger.vkey)


@router.get("/entries", response_class=HTMLResponse)
def entries(request: Request, state: StateDep, page_number: PageNumber = 1) -> Response:
    refused = _auditor(request)
    if refused is not None:
        return refused
    ledger = state.caught_up()
    size = ledger.size
    pages = max(1, -(-size // ENTRIES_PER_PAGE))
    number = min(page_number, pages)
    start = (number - 1) * ENTRIES_PER_PAGE
    rows = [_entry(i, ledger.leaf(i)) for i in range(start, min(size, start + ENTRIES_PER_PAGE))]
    return page(request, "auditor/entries.html", title=N_("Ledger entries"),
                entries=Paged(items=rows, number=number, pages=pages, total=size))


@router.get("/balances", response_class=HTMLResponse)
def balances(request: Request, state: StateDep, position: Position = None) -> Response:
    refused = _auditor(request)
    if refused is not None:
        return refused
    latest = state.registry.queries.position()
    at = latest if position is None else min(position, latest)
    rows = state.registry.queries.balances(as_of=at)
    return page(request, "auditor/balances.html", title=N_("Balances as of a position"),
                rows=rows, position=at, latest=latest)


@router.get("/verify", response_class=HTMLResponse)
def verify(request: Request, state: StateDep, position: Position = None) -> Response:
    refused = _auditor(request)
    if refused is not None:
        return refused
    return page(request, "auditor/verify.html", title=N_("Verify a receipt in the browser"),
                vkey=state.ledger.vkey, position=position or state.registry.queries.position())


@router.get("/receipts/{position}")
def receipt(request: Request, state: StateDep,
            position: Annotated[int, Path(ge=1, le=2**62)]) -> Response:
    """The receipt of the event at ``position`` as JSON, for the verification page (the
    console's session, not a bearer token, authorises it)."""
    refused = _auditor(request)
    if refused is not None:
        raise ApiError(401, "unauthenticated", "sign in to the console as an auditor")
    return JSONResponse(state.receipt(position))


def _record(leaf: bytes) -> dict[str, Any]:
    try:
        found = json.loads(leaf)
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


@dataclass(frozen=True)
class EntryShown:
    index: int
    position: int | None
    event: str
    subjects: list[str]
    recorded_at: str
    size: int


def _entry(index: int, leaf: bytes) -> EntryShown:
    record = _record(leaf)
    topic = str(record.get("topic", ""))
    return EntryShown(index=index, position=record.get("position"),
                      event=event_key(topic) if topic else "",
                      subjects=[f"{s.get('type')} {s.get('id')}" for s in subjects_of(record)],
                      recorded_at=str(record.get("timestamp", "")), size=len(leaf))

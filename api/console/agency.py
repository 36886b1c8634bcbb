"""The agency's pages: its engagements, the retrofits awaiting its audit or verification, and
filing a stage.

Filing names the report by its SHA-256 only: the page's script reads the chosen file in the
browser and computes the digest there (``crypto.subtle.digest``); the file input has no name
and the form is urlencoded, so the file itself never leaves the machine. The filing goes
through the API's own route functions (``POST /retrofits/{ref}/baseline-audit``,
``/post-audit``, ``/verification``) with the session's principal: only the engaged,
independent agency files a stage, as with a token.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from api.console.amounts import parse_exact
from api.console.render import page
from api.console.roles import Caller, Memo, Refusal, attempt, call, posted, signed_in
from api.console.sessions import Session
from api.console.terms import N_
from api.deps import StateDep, not_found
from api.routes import retrofits
from api.schemas.retrofits import AuditSubmission, RetrofitPublic, VerificationSubmission
from api.state import AppState
from domain.errors import NotFound
from domain.retrofit import AUDIT, BASELINE_AUDITED, POST_AUDITED, REGISTERED, VERIFICATION
from registry import directory

router = APIRouter(prefix="/console/agency", include_in_schema=False)
ROLE = "agency"
Reference = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,79}$")]

#: retrofit state -> (the engagement that files next, the stage it files)
NEXT_STAGE = {REGISTERED: (AUDIT, "baseline_audit"), BASELINE_AUDITED: (AUDIT, "post_audit"),
              POST_AUDITED: (VERIFICATION, "verification")}


@dataclass(frozen=True)
class Engagement:
    """A retrofit the agency is engaged for, and the stage it is to file now (if any)."""

    retrofit: RetrofitPublic
    roles: list[str]  # "audit", "verification"
    awaiting: str | None  # "baseline_audit", "post_audit", "verification"


#: each agency's engagements by log position
BUILT = Memo()


def engagements(state: AppState, agency: str) -> list[Engagement]:
    """The retrofits ``agency`` is engaged for, in registration order."""
    return BUILT.get((agency, state.registry.queries.position()),
                     lambda: _engagements(state, agency))


def _engagements(state: AppState, agency: str) -> list[Engagement]:
    out = []
    for r in directory.retrofits(state.registry):
        roles = [stage for stage, who in sorted(r.engagements.items()) if who == agency]
        if not roles:
            continue
        engaged_for, stage = NEXT_STAGE.get(r.state, (None, None))
        out.append(Engagement(RetrofitPublic.of(r), roles,
                              stage if engaged_for in roles else None))
    return out


def _engagement(state: AppState, session: Session, reference: str) -> Engagement:
    found = next((e for e in engagements(state, session.principal.subject)
                  if e.retrofit.reference == reference), None)
    if found is None:  # not engaged, or no such retrofit: the same answer
        raise not_found(f"retrofit {reference}")
    return found


@router.get("", response_class=HTMLResponse)
def home(request: Request, state: StateDep) -> Response:
    session = signed_in(request, ROLE)
    code = session.principal.subject
    mine = engagements(state, code)
    return page(request, "agency/home.html", title=N_("Your engagements"), code=code,
                agency=state.registry.agency(code),
                awaiting=[e for e in mine if e.awaiting], engagements=mine)


def _filing_page(request: Request, state: AppState, session: Session, reference: str, *,
                 refusal: Refusal | None = None, form: dict[str, str] | None = None) -> Response:
    found = _engagement(state, session, reference)
    return page(request, "agency/filing.html", title=N_("File a report"),
                status=refusal.status if refusal else 200, e=found, refusal=refusal,
                form=form or {})


@router.get("/retrofits/{reference}", response_class=HTMLResponse)
def filing(request: Request, state: StateDep, reference: Reference) -> Response:
    return _filing_page(request, state, signed_in(request, ROLE), reference)


@router.post("/retrofits/{reference}", response_class=HTMLResponse)
async def file_report(request: Request, state: StateDep, reference: Reference) -> Response:
    session, fields = await posted(request, ROLE)
    user, me = session.principal, Caller(session.principal, state)

    def act() -> Any:
        found = _engagement(state, session, reference)
        if found.awaiting is None:
            raise NotFound(f"retrofit {reference} awaits nothing of agency {user.subject}")
        digest = fields.get("report_sha256", "").strip().lower()
        amounts = {k: parse_exact(fields.get(f"amount_{k}", ""), 3)
                   for k in found.retrofit.kinds}
        if found.awaiting == "verification":
            return call(me, retrofits.verification, reference, VerificationSubmission(
                report_sha256=digest, reductions=amounts))
        file = (retrofits.baseline_audit if found.awaiting == "baseline_audit"
                else retrofits.post_audit)
        return call(me, file, reference, AuditSubmission(report_sha256=digest, amounts=amounts))

    done = await run_in_threadpool(attempt, session, act)
    if isinstance(done, Refusal):
        return await run_in_threadpool(_filing_page, request, state, session, reference,
                                       refusal=done, form=fields)
    return RedirectResponse(f"/console/agency?filed={reference}", status_code=303)

"""The signed-in user's own API tokens: issue one (its secret shown once, on the page that
answers the form, and never again), see them all, revoke one.

The page goes through the services of ``/users/me/tokens`` (`api.routes.users`): the registry
keeps the token's id and SHA-256 hash with who issued it, never the secret, and a revocation
is an event naming the user. Every form posts the session's CSRF token.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from api.console.login import current_session, form
from api.console.render import page
from api.console.roles import Caller, call
from api.console.sessions import Session, csrf_matches, utc_now
from api.console.terms import N_
from api.deps import PageParams
from api.errors import ApiError
from api.routes import users
from api.routes.tokens import NO_STORE, TokenId, TokenIssued, TokenPublic
from registry.acting import Acting, bind

router = APIRouter(prefix="/console", include_in_schema=False)
TITLE = N_("Your API tokens")
ALL = PageParams(offset=0, limit=200)


def signed_in(request: Request, fields: dict[str, str] | None = None) -> Session:
    """The request's session; with ``fields`` (a posted form) its CSRF token must match."""
    session = current_session(request)
    if session is None:
        raise ApiError(401, "unauthenticated", "sign in to the console first")
    if fields is not None and not csrf_matches(session.csrf, fields.get("csrf_token")):
        raise ApiError(403, "forbidden", "the form's CSRF token is missing or wrong; reload "
                       "the page")
    return session


def _as(request: Request, session: Session) -> Caller:
    """The signed-in user calling a route of ``/users/me/tokens`` (`api.console.roles.call`)."""
    return Caller(session.principal, request.app.state.registry_state, request)


def _tokens_page(request: Request, session: Session, *, status: int = 200,
                 issued: TokenIssued | None = None, error: str | None = None,
                 revoked: str | None = None) -> Response:
    mine: list[TokenPublic] = call(_as(request, session), users.my_tokens, ALL).items
    now = utc_now()
    expired = {t.id for t in mine if datetime.fromisoformat(t.expires_at) <= now}
    response = page(request, "tokens.html", title=TITLE, status=status, tokens=mine,
                    expired=expired, issued=issued, error=error, revoked=revoked)
    if issued is not None:
        response.headers.update(NO_STORE)
    return response


@router.get("/tokens", response_class=HTMLResponse)
def tokens_page(request: Request,
                revoked: Annotated[str | None, Query(pattern=r"^[0-9a-f]{16}$")] = None,
                ) -> Response:
    if current_session(request) is None:
        return RedirectResponse("/console/login", status_code=303)
    return _tokens_page(request, signed_in(request), revoked=revoked)


@router.post("/tokens", response_class=HTMLResponse)
async def issue_token(request: Request) -> Response:
    """Issue a token of one's own; the answer is the one page that shows its secret."""
    fields = await form(request)
    session = await run_in_threadpool(signed_in, request, fields)
    try:
        body = users.TokenRequest.model_validate({"days": int(fields.get("days", "30"))})
    except (ValueError, ValidationError):
        return await run_in_threadpool(
            lambda: _tokens_page(request, session, status=422,
                                 error=N_("A token is valid for 1 to 366 days.")))

    def issue() -> Response:
        with bind(Acting(actor=session.principal.actor)):
            token = call(_as(request, session), users.issue_my_token, body)
        return _tokens_page(request, session, status=201, issued=token)

    return await run_in_threadpool(issue)


@router.post("/tokens/{token_id}/revoke", response_class=HTMLResponse)
async def revoke_token(token_id: TokenId, request: Request) -> Response:
    fields = await form(request)
    session = await run_in_threadpool(signed_in, request, fields)

    def revoke() -> Response:
        with bind(Acting(actor=session.principal.actor)):
            call(_as(request, session), users.revoke_my_token, token_id)  # 404 if not its own
        return RedirectResponse(f"/console/tokens?revoked={token_id}", status_code=303)

    return await run_in_threadpool(revoke)

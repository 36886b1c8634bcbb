"""Signing in to the console, the account page and signing out.

The form posts login, password and a TOTP code to ``POST /console/login`` with a CSRF token;
the credentials go to the app's ``authenticate`` callable (`api.console.sessions.user_login`:
the registry's users, argon2id passwords, TOTP for administrators). Failed sign-ins count
against the same limits as ``POST /login`` (`api.limits.Guards`, per login and per client
address): over them the form answers 429 with ``Retry-After``, whatever the credentials.
Success opens a session (cookie ``HttpOnly``, ``SameSite=Strict``) and leads to the account
page; every form of a signed-in page carries the session's CSRF token, and a POST without it
is refused (403).
"""

from __future__ import annotations

import secrets
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from api.console.render import page
from api.console.sessions import (
    COOKIE,
    LOGIN_CSRF_COOKIE,
    csrf_matches,
    current_session,
)
from api.console.terms import N_
from api.deps import StateDep
from api.errors import ApiError
from api.limits import client_address
from registry.clock import utc_now

router = APIRouter(prefix="/console", include_in_schema=False)
FORM = "application/x-www-form-urlencoded"
MAX_FIELD = 4096


def secure(request: Request) -> bool:
    return request.url.scheme == "https"


async def form(request: Request) -> dict[str, str]:
    """The posted form's fields (one value each); 422 for anything but a urlencoded form."""
    if request.headers.get("content-type", "").split(";")[0].strip() != FORM:
        raise ApiError(422, "invalid-request", f"the form must be posted as {FORM}")
    try:
        fields = parse_qs((await request.body()).decode("utf-8"), max_num_fields=20)
    except (UnicodeDecodeError, ValueError):
        raise ApiError(422, "invalid-request", "the form could not be read") from None
    return {k: v[0][:MAX_FIELD] for k, v in fields.items()}


def _login_page(request: Request, *, status: int = 200, error: str | None = None,
                login: str = "") -> Response:
    token = secrets.token_urlsafe(32)
    response = page(request, "login.html", title=N_("Sign in"), status=status, csrf=token,
                    error=error, login=login)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, max_age=3600, path="/console/login",
                        httponly=True, samesite="strict", secure=secure(request))
    return response


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> Response:
    if current_session(request) is not None:
        return RedirectResponse("/console/account", status_code=303)
    return _login_page(request)


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request, state: StateDep) -> Response:
    fields = await form(request)
    if not csrf_matches(request.cookies.get(LOGIN_CSRF_COOKIE), fields.get("csrf_token")):
        raise ApiError(403, "forbidden", "the form's CSRF token is missing or wrong; reload "
                       "the sign-in page")
    login_name = fields.get("login", "")
    guards, address = request.app.state.limits, client_address(request.scope)
    counted = login_name.strip()  # the login the registry is asked about, as POST /login
    blocked = guards.login_blocked(counted, address)
    if blocked is not None:  # checked before the password: no guessing past the limit
        response = _login_page(request, status=429, login=login_name,
                               error=N_("Too many failed sign-ins; try again later."))
        response.headers["Retry-After"] = blocked.headers["Retry-After"]
        return response
    principal = await run_in_threadpool(state.authenticate, login_name,
                                        fields.get("password", ""), fields.get("totp", ""))
    if principal is None:  # one answer for every wrong credential
        guards.login_failed(counted, address)
        return _login_page(request, status=401, login=login_name,
                           error=N_("The login, password or code is not right."))
    cookie, _ = await run_in_threadpool(state.sessions.open, principal, now=utc_now())
    response = RedirectResponse("/console/account", status_code=303)
    response.set_cookie(COOKIE, cookie, path="/", httponly=True, samesite="strict",
                        secure=secure(request))
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/console/login")
    return response


@router.get("/account", response_class=HTMLResponse)
def account(request: Request) -> Response:
    session = current_session(request)
    if session is None:
        return RedirectResponse("/console/login", status_code=303)
    return page(request, "account.html", title=N_("Your account"))  # page() shows the session


@router.post("/logout")
async def logout(request: Request, state: StateDep) -> Response:
    fields = await form(request)
    session = await run_in_threadpool(current_session, request)
    if session is None or not csrf_matches(session.csrf, fields.get("csrf_token")):
        raise ApiError(403, "forbidden", "signing out needs the session's CSRF token")
    await run_in_threadpool(state.sessions.close_session, request.cookies.get(COOKIE))
    response = RedirectResponse("/console/", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


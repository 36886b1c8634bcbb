"""Shared dependencies of every router: the app state, the caller, object-level authorisation,
pagination and the clock (`registry.clock`).

Handlers read as *parse → authorise → call registry → map to a schema*; what they share lives
here so that no router repeats it (fastapi/full-stack-fastapi-template's ``deps.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Generic, TypeVar

from fastapi import Depends, Query, Request
from pydantic import BaseModel, ConfigDict

from api.auth import CurrentUser, require
from api.errors import ApiError
from api.state import AppState
from api.tokens import Principal
from registry import clock
from registry.bootstrap import Registry

MAX_PAGE = 200
now = clock.now  # the routes' clock: the product's one (`registry.clock`)


# The dependencies below only read memory, so they are ``async``: a plain ``def`` dependency
# costs every request a trip through the thread pool (FastAPI runs it there).


async def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.registry_state
    return state


async def get_registry(request: Request) -> Registry:
    registry: Registry = request.app.state.registry_state.registry
    return registry


StateDep = Annotated[AppState, Depends(get_state)]
RegistryDep = Annotated[Registry, Depends(get_registry)]
Administrator = Annotated[Principal, Depends(require("administrator"))]
Auditor = Annotated[Principal, Depends(require("auditor", "administrator"))]
EnterpriseUser = Annotated[Principal, Depends(require("enterprise"))]
AgencyUser = Annotated[Principal, Depends(require("agency"))]


def not_found(what: str) -> ApiError:
    return ApiError(404, "not-found", f"no {what}")


def authorize_enterprise(user: Principal, code: str, what: str = "enterprise") -> str:
    """Object-level check for anything owned by enterprise ``code``: administrators and auditors
    see every enterprise; an enterprise token only its own; agencies none. Another's object
    answers 404, so a caller cannot learn which objects exist."""
    if user.role in ("administrator", "auditor"):
        return code
    if user.role == "enterprise" and user.subject == code:
        return code
    raise not_found(f"{what} {code}")


def authorize_agency(user: Principal, code: str) -> str:
    """Object-level check for an agency's own submissions (administrators see all)."""
    if user.role in ("administrator", "auditor") or (
            user.role == "agency" and user.subject == code):
        return code
    raise not_found(f"agency {code}")


async def owned_enterprise(code: str, user: CurrentUser) -> str:
    """Path dependency for ``/…/{code}/…`` routes owned by one enterprise."""
    return authorize_enterprise(user, code)


OwnEnterprise = Annotated[str, Depends(owned_enterprise)]


def acting_for(user: Principal, account: str | None) -> str:
    """The enterprise a write acts for: an enterprise token acts for itself (a different
    ``account`` is refused as not found), an administrator must name the account."""
    if user.role == "enterprise":
        if account is not None and account != user.subject:
            raise not_found(f"enterprise {account}")
        return user.subject
    if user.role == "administrator":
        if account is None:
            raise ApiError(422, "invalid-request", "an administrator must name the account")
        return account
    raise ApiError(403, "forbidden", "this needs the role enterprise or administrator")


class PageParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    offset: int = 0
    limit: int = 50


async def page_params(
    offset: Annotated[int, Query(ge=0, le=2**31)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
) -> PageParams:
    return PageParams(offset=offset, limit=limit)


PageDep = Annotated[PageParams, Depends(page_params)]

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a list: ``items`` from ``offset``, ``total`` items in all."""

    model_config = ConfigDict(extra="forbid")
    items: list[T]
    offset: int
    limit: int
    total: int


def paginate(items: Sequence[T], page: PageParams) -> Page[T]:
    return Page[T](items=list(items[page.offset:page.offset + page.limit]),
                   offset=page.offset, limit=page.limit, total=len(items))

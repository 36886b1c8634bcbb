"""The second representative inside an enterprise (`registry.representatives`).

An agreement out of an enterprise's account, offered by one of its representatives while the
enterprise requires a second representative (the default), answers 202 with a *request*; it
takes effect when a different representative of the same enterprise confirms it here. The
units stay as they are until then (nothing is held); the confirmation runs every check of the
act afresh. Another representative may reject it, its requester withdraw it; it expires.

Switching the requirement off is itself such a request; switching it on takes effect at once.
Errors: the requester confirming its own request answers 403 ``four-eyes-violation``; a user
without the representative role, or an administrator, 403 ``forbidden``; another
enterprise's request, or another enterprise's path, 404.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response

from api.auth import CurrentUser
from api.deps import OwnEnterprise, Page, PageDep, RegistryDep, StateDep, not_found, now, paginate
from api.errors import ApiError
from api.ledger_refs import approval_recorded, with_ledger
from api.reruns import is_rerun, stored_approval
from api.routes.proposals import Decision, State
from api.schemas.proposals import plain_result
from api.schemas.representatives import (
    Confirmed,
    RequestPublic,
    Setting,
    SettingChange,
    SettingRecorded,
)
from api.state import AppState
from api.tokens import Principal
from domain.errors import InvalidState, NotFound
from domain.proposal import Proposal
from registry.bootstrap import Registry

router = APIRouter(prefix="/enterprises/{code}", tags=["second representative"])
RequestId = Annotated[str, Path(pattern=r"^R-[0-9a-f]{16}$")]

#: every route that may need a second representative answers this
REQUESTED: dict[int | str, dict[str, Any]] = {
    202: {"model": "RequestPublic",  # replaced below, once the class exists
          "description": "requested: takes effect when a second representative of the "
                         "enterprise confirms it (`/enterprises/{code}/requests/{id}/confirm`)"}}


REQUESTED[202]["model"] = RequestPublic


def requested(state: AppState, response: Response, user: Principal, action: str,
              **params: Any) -> RequestPublic:
    """Request ``action`` as ``user`` and answer 202 with the request and its ledger leaf."""
    at = now()
    response.status_code = 202
    before = state.registry.queries.position()
    out = RequestPublic.of(state.registry.requests.request_as_representative(
        action=action, params=params, by=user.actor, at=at), at)
    return _decided(out, state, before, "Proposed")


def _decided(out: RequestPublic, state: AppState, before: int, event: str) -> RequestPublic:
    return with_ledger(out, state, before, subject_type="proposal", subject=out.id,
                       event=event, as_=RequestPublic)


def _enterprise_user(user: Principal) -> None:
    if user.role != "enterprise":
        raise ApiError(403, "forbidden", "this is an act of the enterprise's representatives")


def _request(registry: Registry, code: str, request_id: str) -> Proposal:
    try:
        return registry.proposals.enterprise_request(request_id, enterprise=code)
    except NotFound:
        raise not_found(f"request {request_id} of {code}") from None


@router.get("/requests")
def list_requests(code: OwnEnterprise, registry: RegistryDep, page: PageDep,
                  state: Annotated[State | None, Query()] = None) -> Page[RequestPublic]:
    """The enterprise's requests, newest first; ``state=pending``: what waits for a second
    representative (a pending one past its time reads expired)."""
    at = now()
    found = registry.proposals.enterprise_requests(enterprise=code, state=state, at=at)
    return paginate([RequestPublic.of(p, at) for p in found], page)


@router.get("/requests/{request_id}")
def show_request(code: OwnEnterprise, request_id: RequestId,
                 registry: RegistryDep) -> RequestPublic:
    return RequestPublic.of(_request(registry, code, request_id), now())


@router.post("/requests/{request_id}/confirm")
def confirm(code: OwnEnterprise, request_id: RequestId, user: CurrentUser,
            state: StateDep, request: Request) -> Confirmed:
    """A second representative (not the requester) confirms: the act takes effect now, its
    events naming the requester (``actor``) and the confirmer (``approved_by``). A retry with
    the Idempotency-Key of a confirmation whose outcome was in doubt answers the stored
    confirmation, never "already approved" (`api.reruns`)."""
    _enterprise_user(user)
    registry, before = state.registry, state.registry.queries.position()
    _request(registry, code, request_id)
    try:
        result = registry.requests.confirm_request(request_id=request_id, by=user.actor, at=now())
    except InvalidState:
        found = stored_approval(registry, _request(registry, code, request_id), user.actor) \
            if is_rerun(request) else None
        if found is None:
            raise
        result = found.result
    own, effects = approval_recorded(state, before, proposal_id=request_id,
                                     approved_by=user.actor)
    return Confirmed(request=RequestPublic.of(registry.proposals.proposal(request_id), now()),
                     result=plain_result(result), ledger=own, effects=effects)


@router.post("/requests/{request_id}/reject")
def reject(code: OwnEnterprise, request_id: RequestId, body: Decision, user: CurrentUser,
           state: StateDep) -> RequestPublic:
    """Another representative rejects it; nothing was held, so nothing is released."""
    _enterprise_user(user)
    registry, before = state.registry, state.registry.queries.position()
    _request(registry, code, request_id)
    return _decided(RequestPublic.of(registry.requests.reject_request(
        request_id=request_id, by=user.actor, reason=body.reason, at=now()), now()), state,
        before, "Rejected")


@router.post("/requests/{request_id}/withdraw")
def withdraw(code: OwnEnterprise, request_id: RequestId, user: CurrentUser,
             state: StateDep) -> RequestPublic:
    """The requester takes its request back."""
    _enterprise_user(user)
    registry, before = state.registry, state.registry.queries.position()
    _request(registry, code, request_id)
    return _decided(RequestPublic.of(registry.requests.withdraw_request(
        request_id=request_id, by=user.actor, at=now()), now()), state, before, "Withdrawn")


@router.get("/second-representative")
def setting(code: OwnEnterprise, registry: RegistryDep) -> Setting:
    """Whether a transfer or an agreement out of the account needs a second representative."""
    return Setting(enterprise=code,
                   required=registry.enterprise(code).needs_second_representative)


@router.put("/second-representative", responses=REQUESTED)
def change_setting(code: OwnEnterprise, body: SettingChange, user: CurrentUser,
                   state: StateDep, response: Response) -> SettingRecorded | RequestPublic:
    """Require a second representative (at once), or no longer (202: a request a second
    representative confirms). A representative's act."""
    _enterprise_user(user)
    registry, before = state.registry, state.registry.queries.position()
    if body.required:
        registry.representatives.set_second_representative(credit_code=code, required=True,
                                                           by=user.actor, at=now())
        return with_ledger(Setting(enterprise=code, required=True), state, before,
                           subject_type="enterprise", subject=code,
                           event="SecondRepresentativeSet", as_=SettingRecorded)
    if not registry.enterprise(code).needs_second_representative:
        raise InvalidState(f"{code} already needs no second representative")
    return requested(state, response, user, "set_second_representative",
                     credit_code=code, required=False)

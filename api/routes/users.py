"""Users: log in, look after one's own credentials, and (administrators) manage users.

``POST /login`` takes a login, a password and, for administrators (and whoever enrolled one),
a one-time code, and answers a bearer token of that user. Failed logins are limited per login
and per client address (429 with Retry-After); the answer never says which part was wrong.
Granting the administrator or auditor role answers 202 with a proposal that a second
administrator approves (``/proposals``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from api.auth import CurrentUser
from api.deps import (
    Administrator,
    Auditor,
    Page,
    PageDep,
    RegistryDep,
    StateDep,
    not_found,
    now,
    paginate,
)
from api.errors import ApiError
from api.ledger_refs import with_ledger
from api.limits import client_address
from api.routes.proposals import proposed
from api.routes.tokens import NO_STORE, TokenId, issued
from api.schemas.proposals import ProposalPublic
from api.schemas.tokens import TokenIssued, TokenPublic
from api.schemas.users import (
    LoggedIn,
    LoginRequest,
    PasswordChange,
    Role,
    RoleGrant,
    SecondFactor,
    Suspension,
    TokenRequest,
    UserCreate,
    UserPublic,
    UserRecorded,
)
from domain.errors import AuthenticationFailed, NotFound
from domain.user import PRIVILEGED, User

router = APIRouter(tags=["users"])
UserId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]


@router.post("/login", status_code=201)
def login(body: LoginRequest, request: Request, registry: RegistryDep,
          response: Response) -> LoggedIn:
    """Password (+ one-time code) in, a bearer token of that user out."""
    guards = request.app.state.limits
    address = client_address(request.scope)
    blocked = guards.login_blocked(body.login, address)
    if blocked is not None:
        raise ApiError(429, "too-many-requests", "too many failed logins; retry later")
    try:
        user = registry.users.authenticate(body.login, body.password, body.totp, datetime.now(UTC))
    except AuthenticationFailed:
        guards.login_failed(body.login, address)
        raise
    token = issued(registry, user, user.user_id, body.days, response)
    return LoggedIn(**token.model_dump(), user=UserPublic.of(registry.users.user(user.user_id)))


@router.get("/users/me")
def me(user: CurrentUser, registry: RegistryDep) -> UserPublic:
    """The user the token belongs to."""
    return UserPublic.of(registry.users.user(user.user_id))


@router.get("/users/me/tokens")
def my_tokens(user: CurrentUser, registry: RegistryDep, page: PageDep) -> Page[TokenPublic]:
    u = registry.users.user(user.user_id)
    return paginate([TokenPublic.of(u, t) for t in reversed(list(u.tokens))], page)


@router.post("/users/me/tokens", status_code=201)
def issue_my_token(body: TokenRequest, user: CurrentUser, registry: RegistryDep,
                   response: Response) -> TokenIssued:
    """A further token of one's own (for scripts and curl)."""
    return issued(registry, registry.users.user(user.user_id), user.actor, body.days, response)


@router.delete("/users/me/tokens/{token_id}", status_code=204)
def revoke_my_token(token_id: TokenId, user: CurrentUser, registry: RegistryDep) -> Response:
    u = registry.users.user(user.user_id)
    if token_id not in u.tokens or u.tokens[token_id]["revoked_at"] is not None:
        raise not_found(f"active token {token_id}")
    registry.users.revoke_token(user_id=user.user_id, token_id=token_id, by=user.actor, at=now())
    return Response(status_code=204)


@router.post("/users/me/password", status_code=204)
def change_password(body: PasswordChange, user: CurrentUser,
                    registry: RegistryDep) -> Response:
    registry.users.set_password(user_id=user.user_id, password=body.password, by=user.actor,
                                at=now())
    return Response(status_code=204)


@router.post("/users/me/second-factor", status_code=201)
def enroll_second_factor(user: CurrentUser, registry: RegistryDep,
                         response: Response) -> SecondFactor:
    """A new TOTP secret (replacing any earlier one); from now on logins need its codes."""
    import pyotp

    secret = registry.users.enroll_second_factor(user_id=user.user_id, by=user.actor, at=now())
    response.headers.update(NO_STORE)
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.login, issuer_name="Surplus Registry")
    return SecondFactor(secret=secret, uri=uri)


def _recorded(u: User, state: StateDep, before: int, event: str) -> UserRecorded:
    """The user as a write on it answers it, with its ``event``'s leaf (the user's subject
    is its aggregate's id)."""
    return with_ledger(UserPublic.of(u), state, before, subject_type="user",
                       subject=str(User.create_id(u.user_id)), event=event, as_=UserRecorded)


@router.post("/users", status_code=201)
def create_user(body: UserCreate, admin: Administrator, state: StateDep) -> UserRecorded:
    """A new user of a registered organisation (administrators). The administrator and
    auditor roles are granted afterwards, through a proposal."""
    code = body.organisation_code.upper() if body.organisation_code else None
    registry, before = state.registry, state.registry.queries.position()
    u = registry.users.create_user(login=body.login, display_name=body.display_name,
                                   organisation=body.organisation, organisation_code=code,
                                   roles=list(body.roles), by=admin.actor, at=now(),
                                   password=body.password)
    return _recorded(u, state, before, "Registered")


@router.get("/users")
def list_users(_: Auditor, registry: RegistryDep, page: PageDep) -> Page[UserPublic]:
    return paginate([UserPublic.of(u) for u in registry.users.users()], page)


def _user(registry: RegistryDep, user_id: str) -> User:
    try:
        return registry.users.user(user_id)
    except NotFound:
        raise not_found(f"user {user_id}") from None


@router.get("/users/{user_id}")
def show_user(user_id: UserId, _: Auditor, registry: RegistryDep) -> UserPublic:
    return UserPublic.of(_user(registry, user_id))


@router.post("/users/{user_id}/suspension")
def suspend(user_id: UserId, body: Suspension, admin: Administrator,
            state: StateDep) -> UserRecorded:
    """Suspend a user: its tokens answer 401 and it cannot log in until re-enabled."""
    registry, before = state.registry, state.registry.queries.position()
    _user(registry, user_id)
    return _recorded(
        registry.users.suspend_user(user_id=user_id, reason=body.reason, by=admin.actor, at=now()),
        state, before, "Suspended")


@router.post("/users/{user_id}/reenable")
def reenable(user_id: UserId, admin: Administrator, state: StateDep) -> UserRecorded:
    registry, before = state.registry, state.registry.queries.position()
    _user(registry, user_id)
    return _recorded(registry.users.reenable_user(user_id=user_id, by=admin.actor, at=now()), state,
                     before, "Reenabled")


@router.post("/users/{user_id}/roles", status_code=201,
             responses={202: {"model": ProposalPublic,
                              "description": "a privileged role: proposed, awaiting approval"}})
def grant_role(user_id: UserId, body: RoleGrant, admin: Administrator, state: StateDep,
               response: Response) -> UserRecorded | ProposalPublic:
    """Grant a role. The administrator and auditor roles answer 202 with a proposal that a
    second administrator approves; the others take effect at once."""
    registry, before = state.registry, state.registry.queries.position()
    _user(registry, user_id)
    if body.role in PRIVILEGED:
        return proposed(state, response, admin.actor, "grant_role", user_id=user_id,
                        role=body.role)
    return _recorded(registry.users.grant_role(user_id=user_id, role=body.role, by=admin.actor,
                                               at=now()), state, before, "RoleGranted")


@router.delete("/users/{user_id}/roles/{role}")
def withdraw_role(user_id: UserId, role: Role, admin: Administrator,
                  state: StateDep) -> UserRecorded:
    registry, before = state.registry, state.registry.queries.position()
    _user(registry, user_id)
    return _recorded(registry.users.withdraw_role(user_id=user_id, role=role, by=admin.actor,
                                                  at=now()), state, before, "RoleWithdrawn")


"""User commands and authentication: the registry-level API every entry point uses.

- ``bootstrap_administrator`` (local, once): the first administrator;
- ``create_user`` / ``suspend_user`` / ``reenable_user`` / ``grant_role`` / ``withdraw_role``
  (administrators; the administrator and auditor roles only through an approved proposal);
- ``set_password``, ``enroll_second_factor``;
- ``authenticate(login, password, totp, now) -> User`` (administrators need the second factor);
- ``issue_token`` / ``revoke_token`` / ``verify_token``: a bearer secret reads
  ``<user id>.<token id>.<random>``, so a token carries its user's id; the store keeps only its
  SHA-256 hash, on the user's own events, next to who issued or revoked it.

Every check of who may act is by user id, on the stored user (active, with the role).
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any

from eventsourcing.application import AggregateNotFoundError

from domain.errors import (
    AlreadyExists,
    AuthenticationFailed,
    InvalidInput,
    NotFound,
    PermissionDenied,
)
from domain.user import (
    ADMINISTRATOR,
    AGENCY,
    ENTERPRISE,
    PRIVILEGED,
    BootstrapMark,
    Login,
    User,
    check_login,
)
from registry.acting import acting
from registry.app import RegistryBase, command
from registry.credentials import CredentialStore, check_password_strength

MAX_TOKEN_DAYS = 366


def token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def is_system(actor: str) -> bool:
    """Local tools (bootstrap, demo, CLI with the data folder) act as ``system:<job>``."""
    return actor.startswith("system:")


class UserService:
    """Users, their roles, passwords, second factors and tokens."""

    def __init__(self, core: RegistryBase, *, credentials: CredentialStore) -> None:
        self.core = core
        #: passwords and second factors (`registry.credentials`)
        self.credentials = credentials

    def _credentials(self) -> CredentialStore:
        return self.credentials

    # -- reading -------------------------------------------------------------------------------

    def user(self, user_id: str) -> User:
        u: User = self.core.load(User, User.create_id(user_id), f"user {user_id}")
        return u

    def user_by_login(self, login: str) -> User:
        try:
            index = self.core.repository.get(Login.create_id(login))
        except AggregateNotFoundError:
            raise NotFound(f"user {login}") from None
        return self.user(index.user_id)

    def users(self) -> list[User]:
        """Every user in registration order, each a private copy from the index kept from the
        log (`registry.pending`): equal to `users_reloaded`, without a reload per user."""
        with self.core.reading_catalogue() as catalogue:
            listed = list(catalogue.entries.get("users", []))
        found = self.core.people.copies(self.core, [User.create_id(u) for u in listed])
        return [u if isinstance(u, User) else self.user(i) for i, u in zip(listed, found,
                                                                            strict=True)]

    def users_reloaded(self) -> list[User]:
        """Every user in registration order, each reloaded from the store (the plain path)."""
        return [self.user(u) for u in self.core.catalogue().entries.get("users", [])]


    def check_acting_role(self, actor: str, *roles: str) -> User | None:
        """The acting user, active and holding one of ``roles``; local tools pass."""
        if is_system(actor):
            return None
        try:
            u = self.user(actor)
        except NotFound:
            raise PermissionDenied(f"no user {actor}") from None
        u.check_active()
        if not u.has_role(*roles):
            raise PermissionDenied(f"this needs the role {' or '.join(roles)}")
        return u

    # -- lifecycle -----------------------------------------------------------------------------

    @command
    def bootstrap_administrator(self, *, login: str, display_name: str, password: str | None,
                                at: str, user_id: str | None = None) -> tuple[User, str]:
        """One of the two founding administrators (local command, needs the data folder:
        four eyes need two administrators before a role can be granted); refused once both
        exist. Returns the user and its TOTP secret (show it once, to that person)."""
        check_login(login)
        if password is not None:  # without one, only a local `registry token create` serves
            check_password_strength_input(password)
        free = [s for s in BootstrapMark.SLOTS if not self.core.exists(BootstrapMark.create_id(s))]
        if not free:
            raise AlreadyExists("the founding administrators were bootstrapped already; "
                                "further administrators are granted through proposals")
        u = User.bootstrap(user_id=user_id or new_user_id(), login=login, display_name=display_name,
                           at=at)
        with acting("system:bootstrap"):
            if password is not None:
                u.note_password_set(by="system:bootstrap", at=at)
            u.note_second_factor(by="system:bootstrap", at=at)
            self._save_new_user(u, BootstrapMark(slot=free[0], user_id=u.user_id, at=at))
        if password is not None:
            self._credentials().set_password(u.user_id, password)
        return u, self._credentials().enroll_totp(u.user_id)

    @command
    def create_user(self, *, login: str, display_name: str, organisation: str,
                    organisation_code: str | None = None, roles: list[str], by: str,
                    at: str, password: str | None = None,
                    user_id: str | None = None) -> User:
        """A new user of an existing organisation, created by an administrator (``user_id``:
        a given id, for a deterministic world; a fresh one otherwise)."""
        self.check_acting_role(by, ADMINISTRATOR)
        if password is not None:
            check_password_strength_input(password)
        u = User.register(user_id=user_id or new_user_id(), login=login, display_name=display_name,
                          organisation=organisation, organisation_code=organisation_code,
                          roles=roles, by=by, at=at)
        if organisation == ENTERPRISE:
            self.core.enterprise(u.organisation_code or "")
        elif organisation == AGENCY:
            self.core.agency(u.organisation_code or "")
        if password is not None:
            u.note_password_set(by=by, at=at)
        with acting(by):
            self._save_new_user(u)
        if password is not None:
            self._credentials().set_password(u.user_id, password)
        return u

    def _save_new_user(self, u: User, *others: Any) -> None:
        if self.core.exists(Login.create_id(u.login)):
            raise AlreadyExists(f"the login {u.login} is taken")
        catalogue = self.core.catalogue()
        catalogue.add(section="users", key=u.user_id)
        self.core.save(u, Login(login=u.login, user_id=u.user_id), catalogue, *others)

    @command
    def suspend_user(self, *, user_id: str, reason: str, by: str, at: str) -> User:
        self.check_acting_role(by, ADMINISTRATOR)
        u = self.user(user_id)
        u.suspend(reason=reason, by=by, at=at)
        self.core.save(u)
        return u

    @command
    def reenable_user(self, *, user_id: str, by: str, at: str) -> User:
        self.check_acting_role(by, ADMINISTRATOR)
        u = self.user(user_id)
        u.reenable(by=by, at=at)
        self.core.save(u)
        return u

    @command
    def grant_role(self, *, user_id: str, role: str, by: str, at: str,
                   approved_by: str | None = None) -> User:
        """Grant a role: by an administrator; the administrator and auditor roles only with
        a *different* administrator's approval (`registry.proposals`)."""
        self.check_acting_role(by, ADMINISTRATOR)
        if approved_by is not None:
            self.check_acting_role(approved_by, ADMINISTRATOR)
        elif role in PRIVILEGED:
            raise PermissionDenied(f"the role {role} is granted through an approved proposal")
        u = self.user(user_id)
        u.grant_role(role=role, by=by, approved_by=approved_by, at=at)
        self.core.save(u)
        return u

    @command
    def withdraw_role(self, *, user_id: str, role: str, by: str, at: str) -> User:
        self.check_acting_role(by, ADMINISTRATOR)
        u = self.user(user_id)
        u.withdraw_role(role=role, by=by, at=at)
        self.core.save(u)
        return u

    # -- credentials ---------------------------------------------------------------------------

    def _check_self_or_admin(self, user_id: str, by: str) -> None:
        if by != user_id:
            self.check_acting_role(by, ADMINISTRATOR)

    @command
    def set_password(self, *, user_id: str, password: str, by: str, at: str) -> None:
        """Set a user's password: the user itself, or an administrator (a reset)."""
        self._check_self_or_admin(user_id, by)
        check_password_strength_input(password)
        u = self.user(user_id)
        u.note_password_set(by=by, at=at)
        self._credentials().set_password(user_id, password)
        self.core.save(u)

    @command
    def enroll_second_factor(self, *, user_id: str, by: str, at: str) -> str:
        """A new TOTP secret for the user (returned once: show it to its owner only)."""
        self._check_self_or_admin(user_id, by)
        u = self.user(user_id)
        u.note_second_factor(by=by, at=at)
        secret = self._credentials().enroll_totp(user_id)
        self.core.save(u)
        return secret

    def authenticate(self, login: str, password: str, totp: str | None,
                     now: datetime) -> User:
        """The user whose login, password and (for administrators, or whoever enrolled one)
        one-time code these are; `AuthenticationFailed` otherwise, never saying which part
        failed. Failed attempts are limited by the callers (`api.routes.users`,
        `api.console.login`)."""
        store = self._credentials()
        try:
            u: User | None = self.user_by_login(login)
        except (NotFound, InvalidInput):
            u = None
        ok = store.check_password(None if u is None else u.user_id, password)
        if u is None or not ok or not u.active:
            raise AuthenticationFailed("login, password or one-time code is wrong")
        needs_second = ADMINISTRATOR in u.roles or store.has_totp(u.user_id)
        if needs_second and not store.check_totp(u.user_id, totp, now):
            raise AuthenticationFailed("login, password or one-time code is wrong")
        return u

    @command
    def issue_token(self, *, user_id: str, by: str, at: str,
                    days: int = 30) -> tuple[str, str]:
        """A bearer token for ``user_id``, issued by the user itself or by an administrator
        (recorded as such). An administrator issues none for another administrator or an
        auditor: nobody obtains a credential that would act as a second privileged person.
        Returns (token id, secret): the secret is shown once and stored nowhere."""
        if not isinstance(days, int) or not 0 < days <= MAX_TOKEN_DAYS:
            raise InvalidInput(f"a token is valid 1 to {MAX_TOKEN_DAYS} days")
        u = self.user(user_id)
        if by != user_id:
            self.check_acting_role(by, ADMINISTRATOR)
            if not is_system(by) and any(r in PRIVILEGED for r in u.roles):
                raise PermissionDenied("an administrator or auditor issues its own tokens")
        token_id = secrets.token_hex(8)
        secret = f"{u.user_id}.{token_id}.{secrets.token_urlsafe(32)}"
        expires = (datetime.fromisoformat(at) + timedelta(days=days)).isoformat()
        u.issue_token(token_id=token_id, token_hash=token_hash(secret), expires_at=expires,
                      by=by, at=at)
        with acting(by):
            self.core.save(u)
        return token_id, secret

    @command
    def revoke_token(self, *, user_id: str, token_id: str, by: str, at: str) -> None:
        self._check_self_or_admin(user_id, by)
        u = self.user(user_id)
        u.revoke_token(token_id=token_id, by=by, at=at)
        self.core.save(u)

    def verify_token(self, secret: str, now: datetime) -> tuple[User, str] | None:
        """(user, token id) of a valid bearer secret; None when unknown, expired, revoked or
        the user suspended. Reads the current user (brought up to date from the store)."""
        user_id, _, rest = secret.partition(".")
        token_id, _, _ = rest.partition(".")
        if len(user_id) != 32 or len(token_id) != 16 or len(secret) > 200:
            return None
        # the current user, shared with other readers and brought up to date from the store
        with self.core.reads.current(User.create_id(user_id), lambda: None) as u:
            if not isinstance(u, User) or not u.token_valid(token_id, token_hash(secret), now):
                return None
            return u, token_id

    def user_active(self, user_id: str) -> bool:
        """Whether the user exists and is not suspended, as of the store now (what a console
        session checks on every request: suspending a user ends its sessions too)."""
        with self.core.reads.current(User.create_id(user_id), lambda: None) as u:
            return isinstance(u, User) and u.active


def new_user_id() -> str:
    return uuid.uuid4().hex


def check_password_strength_input(password: str) -> None:
    try:
        check_password_strength(password)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None

"""Users: the people who act in the registry, with a login, an organisation and roles.

A user belongs to exactly one organisation (an enterprise or an agency by its credit code, the
regulator, or an audit body) and holds roles that fit it. Everything that happens to a user
is an event naming who did it: creation, suspension, re-enabling, roles granted (a privileged
role only through an approved proposal) and withdrawn, a password set or a second factor
enrolled (never the secret itself: credential material is kept outside the public log), API
tokens issued and revoked (their id and SHA-256 hash only).

Logins are unique through a `Login` index aggregate whose id is the uuid5 of the login, saved
in the same transaction as the user: a second user with the same login conflicts on save.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.credit_code import validate_credit_code
from domain.errors import InvalidInput, InvalidState, PermissionDenied
from domain.topics import aggregate_topic, event_topic, natural_id

TRADER = "trader"
REPRESENTATIVE = "representative"
AGENCY_STAFF = "agency_staff"
ADMINISTRATOR = "administrator"
AUDITOR = "auditor"
ROLES = (TRADER, REPRESENTATIVE, AGENCY_STAFF, ADMINISTRATOR, AUDITOR)
#: roles that only an approved proposal grants (after the first, bootstrapped administrator)
PRIVILEGED = frozenset({ADMINISTRATOR, AUDITOR})

ENTERPRISE = "enterprise"
AGENCY = "agency"
REGULATOR = "regulator"
AUDIT_BODY = "audit_body"
ORGANISATIONS = (ENTERPRISE, AGENCY, REGULATOR, AUDIT_BODY)
#: which organisation each role belongs to
ROLE_ORGANISATIONS = {
    TRADER: {ENTERPRISE}, REPRESENTATIVE: {ENTERPRISE}, AGENCY_STAFF: {AGENCY},
    ADMINISTRATOR: {REGULATOR}, AUDITOR: {AUDIT_BODY, REGULATOR},
}

ACTIVE = "active"
SUSPENDED = "suspended"

_LOGIN = re.compile(r"^[a-z0-9][a-z0-9._@-]{1,63}$")
_TOKEN_ID = re.compile(r"^[0-9a-f]{16}$")
_HASH = re.compile(r"^[0-9a-f]{64}$")


def check_login(login: str) -> str:
    """A login: 2-64 characters of lower-case letters, digits and ``._@-``."""
    if not isinstance(login, str) or not _LOGIN.match(login):
        raise InvalidInput("a login is 2-64 characters: lower-case letters, digits and ._@-, "
                           "starting with a letter or digit")
    return login


def check_organisation(kind: str, code: str | None) -> str | None:
    """An organisation: an enterprise or agency names its credit code, the others none."""
    if kind not in ORGANISATIONS:
        raise InvalidInput(f"an organisation is one of {', '.join(ORGANISATIONS)}, not {kind!r}")
    if kind in (ENTERPRISE, AGENCY):
        if code is None:
            raise InvalidInput(f"an {kind} user names the {kind}'s credit code")
        return validate_credit_code(code)
    if code is not None:
        raise InvalidInput(f"a {kind} user names no credit code")
    return None


def check_role(role: str, organisation: str) -> str:
    if role not in ROLES:
        raise InvalidInput(f"a role is one of {', '.join(ROLES)}, not {role!r}")
    if organisation not in ROLE_ORGANISATIONS[role]:
        raise InvalidInput(f"the role {role} belongs to "
                           f"{' or '.join(sorted(ROLE_ORGANISATIONS[role]))} users, "
                           f"not to a {organisation} user")
    return role


class Login(Aggregate):
    """The index that makes a login unique: its id is the uuid5 of the login."""

    TOPIC = aggregate_topic("Login")

    class Created(Aggregate.Created):
        TOPIC = event_topic("Login", "Created")

    @staticmethod
    def create_id(login: str, **_: Any) -> UUID:
        return natural_id(f"/logins/{login}")

    @event("Claimed", topic=event_topic("Login", "Claimed"))
    def __init__(self, login: str, user_id: str) -> None:
        self.login = login
        self.user_id = user_id


class BootstrapMark(Aggregate):
    """Marks a bootstrapped founding administrator. Four eyes need two administrators before
    any role can be granted, so there are two slots; a third bootstrap finds both taken."""

    TOPIC = aggregate_topic("BootstrapMark")

    class Created(Aggregate.Created):
        TOPIC = event_topic("BootstrapMark", "Created")

    SLOTS = (1, 2)

    @staticmethod
    def create_id(slot: int, **_: Any) -> UUID:
        return natural_id(f"/users/bootstrap/{slot}")

    @event("Bootstrapped", topic=event_topic("BootstrapMark", "Bootstrapped"))
    def __init__(self, slot: int, user_id: str, at: str) -> None:
        self.slot = slot
        self.user_id = user_id
        self.at = at


class User(Aggregate):
    TOPIC = aggregate_topic("User")

    class Created(Aggregate.Created):
        TOPIC = event_topic("User", "Created")

    @staticmethod
    def create_id(user_id: str, **_: Any) -> UUID:
        return natural_id(f"/users/{user_id}")

    @classmethod
    def register(cls, *, user_id: str, login: str, display_name: str, organisation: str,
                 organisation_code: str | None, roles: list[str], by: str, at: str) -> User:
        """A new user; privileged roles are not given here but granted through a proposal
        (the bootstrap of the first administrator is the one exception, `bootstrap`)."""
        if any(r in PRIVILEGED for r in roles):
            raise PermissionDenied("the administrator and auditor roles are granted only "
                                   "through an approved proposal")
        return cls._new(user_id=user_id, login=login, display_name=display_name,
                        organisation=organisation, organisation_code=organisation_code,
                        roles=roles, by=by, at=at)

    @classmethod
    def bootstrap(cls, *, user_id: str, login: str, display_name: str, at: str) -> User:
        """The first administrator, created by the local bootstrap command."""
        return cls._new(user_id=user_id, login=login, display_name=display_name,
                        organisation=REGULATOR, organisation_code=None,
                        roles=[ADMINISTRATOR], by="system:bootstrap", at=at)

    @classmethod
    def _new(cls, *, user_id: str, login: str, display_name: str, organisation: str,
             organisation_code: str | None, roles: list[str], by: str, at: str) -> User:
        if not user_id.strip():
            raise InvalidInput("a user needs an id")
        check_login(login)
        if not isinstance(display_name, str) or not display_name.strip() \
                or len(display_name) > 200:
            raise InvalidInput("a user needs a display name of at most 200 characters")
        code = check_organisation(organisation, organisation_code)
        if len(set(roles)) != len(roles):
            raise InvalidInput("each role is named once")
        for role in roles:
            check_role(role, organisation)
        return cls(user_id=user_id, login=login, display_name=display_name.strip(),
                   organisation=organisation, organisation_code=code, roles=sorted(roles),
                   by=by, at=at)

    @event("Registered", topic=event_topic("User", "Registered"))
    def __init__(self, user_id: str, login: str, display_name: str, organisation: str,
                 organisation_code: str | None, roles: list[str], by: str, at: str) -> None:
        self.user_id = user_id
        self.login = login
        self.display_name = display_name
        self.organisation = organisation
        self.organisation_code = organisation_code
        self.roles = list(roles)
        self.status = ACTIVE
        self.created_by = by
        self.created_at = at
        self.password_set = False
        self.second_factor = False
        #: token id -> {"hash", "expires_at", "issued_by", "issued_at", "revoked_at", …}
        self.tokens: dict[str, dict[str, Any]] = {}

    # -- status --------------------------------------------------------------------------------

    @property
    def active(self) -> bool:
        return self.status == ACTIVE

    def check_active(self) -> None:
        if not self.active:
            raise PermissionDenied(f"user {self.login} is suspended")

    def suspend(self, *, reason: str, by: str, at: str) -> None:
        if not self.active:
            raise InvalidState(f"user {self.login} is already suspended")
        if not reason.strip():
            raise InvalidInput("a suspension needs a reason")
        if by == self.user_id:
            raise PermissionDenied("a user does not suspend itself")
        self._suspended(reason=reason, by=by, at=at)

    @event("Suspended", topic=event_topic("User", "Suspended"))
    def _suspended(self, reason: str, by: str, at: str) -> None:
        self.status = SUSPENDED

    def reenable(self, *, by: str, at: str) -> None:
        if self.active:
            raise InvalidState(f"user {self.login} is not suspended")
        if by == self.user_id:
            raise PermissionDenied("a user does not re-enable itself")
        self._reenabled(by=by, at=at)

    @event("Reenabled", topic=event_topic("User", "Reenabled"))
    def _reenabled(self, by: str, at: str) -> None:
        self.status = ACTIVE

    # -- roles ---------------------------------------------------------------------------------

    def grant_role(self, *, role: str, by: str, at: str, approved_by: str | None = None) -> None:
        """Grant a role; a privileged one needs a different approver than the proposer, and
        nobody grants a role to itself."""
        check_role(role, self.organisation)
        if role in self.roles:
            raise InvalidState(f"user {self.login} already has the role {role}")
        if self.user_id in (by, approved_by):
            raise PermissionDenied("nobody grants a role to itself")
        if role in PRIVILEGED and (approved_by is None or approved_by == by):
            raise PermissionDenied(f"the role {role} needs a second administrator's approval")
        self._role_granted(role=role, by=by, approved_by=approved_by, at=at)

    @event("RoleGranted", topic=event_topic("User", "RoleGranted"))
    def _role_granted(self, role: str, by: str, approved_by: str | None, at: str) -> None:
        self.roles = sorted({*self.roles, role})

    def withdraw_role(self, *, role: str, by: str, at: str) -> None:
        if role not in self.roles:
            raise InvalidState(f"user {self.login} does not have the role {role}")
        self._role_withdrawn(role=role, by=by, at=at)

    @event("RoleWithdrawn", topic=event_topic("User", "RoleWithdrawn"))
    def _role_withdrawn(self, role: str, by: str, at: str) -> None:
        self.roles = [r for r in self.roles if r != role]

    def has_role(self, *roles: str) -> bool:
        return self.active and any(r in self.roles for r in roles)

    # -- credentials (what happened, never the secret) -----------------------------------------

    @event("PasswordSet", topic=event_topic("User", "PasswordSet"))
    def note_password_set(self, by: str, at: str) -> None:
        self.password_set = True

    @event("SecondFactorEnrolled", topic=event_topic("User", "SecondFactorEnrolled"))
    def note_second_factor(self, by: str, at: str) -> None:
        self.second_factor = True

    def issue_token(self, *, token_id: str, token_hash: str, expires_at: str, by: str,
                    at: str) -> None:
        """Record a token issued to this user by ``by`` (itself, or an administrator)."""
        self.check_active()
        if not _TOKEN_ID.match(token_id) or token_id in self.tokens:
            raise InvalidInput("a token id is 16 new lower-case hex digits")
        if not _HASH.match(token_hash):
            raise InvalidInput("a token is recorded by its SHA-256 hash (64 hex digits)")
        if _moment(expires_at) <= _moment(at):
            raise InvalidInput("a token needs a future expiry")
        self._token_issued(token_id=token_id, token_hash=token_hash, expires_at=expires_at,
                           by=by, at=at)

    @event("TokenIssued", topic=event_topic("User", "TokenIssued"))
    def _token_issued(self, token_id: str, token_hash: str, expires_at: str, by: str,
                      at: str) -> None:
        self.tokens[token_id] = {"hash": token_hash, "expires_at": expires_at,
                                 "issued_by": by, "issued_at": at, "revoked_at": None,
                                 "revoked_by": None}

    def revoke_token(self, *, token_id: str, by: str, at: str) -> None:
        token = self.tokens.get(token_id)
        if token is None or token["revoked_at"] is not None:
            raise InvalidState(f"no active token {token_id} of user {self.login}")
        self._token_revoked(token_id=token_id, by=by, at=at)

    @event("TokenRevoked", topic=event_topic("User", "TokenRevoked"))
    def _token_revoked(self, token_id: str, by: str, at: str) -> None:
        self.tokens[token_id] = {**self.tokens[token_id], "revoked_at": at, "revoked_by": by}

    def token_valid(self, token_id: str, token_hash: str, now: datetime) -> bool:
        """Whether the token is this active user's, unrevoked and unexpired at ``now``."""
        token = self.tokens.get(token_id)
        return (self.active and token is not None and token["hash"] == token_hash
                and token["revoked_at"] is None and _moment(token["expires_at"]) > now)


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        raise InvalidInput(f"not an ISO 8601 time: {text!r}") from None
    if moment.tzinfo is None:
        raise InvalidInput(f"a time needs its UTC offset: {text!r}")
    return moment

"""Who a request speaks for: the `Principal` of a valid bearer token, read from its user.

Tokens belong to users (`registry.users`): a secret reads ``<user id>.<token id>.<random>``,
the registry keeps only its SHA-256 hash on the user's events. The principal carries the user
id (the ``actor`` of everything the request causes), the user's roles and organisation, and
the coarse ``role`` and ``subject`` that routes authorise on: an enterprise user acts for its
enterprise's credit code, agency staff for their agency's, administrators and auditors as
themselves (their user id).
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.user import (
    ADMINISTRATOR,
    AGENCY_STAFF,
    AUDITOR,
    REPRESENTATIVE,
    TRADER,
    User,
)
from registry.user_changes import UserChanges

#: the coarse roles routes authorise on
ROLES = ("enterprise", "agency", "administrator", "auditor")


@dataclass(frozen=True)
class Principal:
    token_id: str
    user_id: str
    login: str
    role: str
    subject: str
    roles: frozenset[str]
    organisation: str
    issued_by: str = ""  # who issued the token: the user itself, or an administrator

    @property
    def actor(self) -> str:
        """The user id every event this request causes names."""
        return self.user_id

    def has(self, *roles: str) -> bool:
        return any(r in self.roles for r in roles)


def coarse_role(user: User) -> str:
    """The route-level role of a user: its most privileged one."""
    roles = set(user.roles)
    if ADMINISTRATOR in roles:
        return "administrator"
    if AUDITOR in roles:
        return "auditor"
    if roles & {TRADER, REPRESENTATIVE}:
        return "enterprise"
    if AGENCY_STAFF in roles:
        return "agency"
    return "none"


def principal_of(user: User, token_id: str) -> Principal:
    role = coarse_role(user)
    subject = (user.organisation_code if role in ("enterprise", "agency")
               and user.organisation_code else user.user_id)
    return Principal(token_id=token_id, user_id=user.user_id, login=user.login, role=role,
                     subject=subject, roles=frozenset(user.roles),
                     organisation=user.organisation,
                     issued_by=user.tokens[token_id]["issued_by"])


def _digest(secret: str) -> bytes:
    """What a kept verdict is filed under: the secret's SHA-256 digest."""
    return hashlib.sha256(secret.encode()).digest()


@dataclass(frozen=True)
class _Verdict:
    mark: int  # the store's user-change mark, read before the user was
    principal: Principal
    expires_at: datetime


class TokenVerdicts:
    """Valid tokens' principals, kept while the store holds no newer user event.

    A verdict is reached by reading the user from the store (`Registry.verify_token`) and is
    kept with the store's user-change mark read just before (`registry.user_changes`). It is
    used again while the mark has not moved and the token has not expired: every token
    issued or revoked, every user suspended or given a role, by this process, another worker
    or the CLI, moves the mark in the transaction that stores it, so the next request reads
    the user again. Refusals are not kept (a guessed token is rate-limited instead). Without
    a mark (a store other than a SQLite file) every request reads the user. Verdicts are
    kept under the secret's SHA-256 digest, never the secret itself."""

    def __init__(self, changes: UserChanges | None, *, maxsize: int = 10_000) -> None:
        self._changes = changes
        self._maxsize = maxsize
        self._verdicts: dict[bytes, _Verdict] = {}
        self._guard = threading.Lock()

    def known(self, secret: str, now: datetime) -> Principal | None:
        """The principal of a kept verdict still true now, without reading the user; None
        when the token must be verified against the store."""
        verdict = self._verdicts.get(_digest(secret))
        if verdict is None or verdict.expires_at <= now or self._changes is None:
            return None
        mark = self._changes.mark()
        return verdict.principal if mark is not None and mark == verdict.mark else None

    def verify(self, registry: Any, secret: str, now: datetime) -> Principal | None:
        """The principal of ``secret`` read from the store (None: unknown, expired, revoked,
        the user suspended), kept for the next requests."""
        mark = None if self._changes is None else self._changes.mark()
        found = registry.users.verify_token(secret, now)
        if found is None:
            self._verdicts.pop(_digest(secret), None)
            return None
        user, token_id = found
        principal = principal_of(user, token_id)
        if mark is not None:  # kept only with the mark read before the user
            expires_at = datetime.fromisoformat(user.tokens[token_id]["expires_at"])
            with self._guard:
                self._verdicts[_digest(secret)] = _Verdict(mark, principal, expires_at)
                while len(self._verdicts) > self._maxsize:
                    del self._verdicts[next(iter(self._verdicts))]
        return principal

    def close(self) -> None:
        if self._changes is not None:
            self._changes.close()

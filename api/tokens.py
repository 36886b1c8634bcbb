"""Who a request speaks for: the `Principal` of a valid bearer token, read from its user.

Tokens belong to users (`registry.users`): a secret reads ``<user id>.<token id>.<random>``,
the registry keeps only its SHA-256 hash on the user's events. The principal carries the user
id (the ``actor`` of everything the request causes), the user's roles and organisation, and
the coarse ``role`` and ``subject`` that routes authorise on: an enterprise user acts for its
enterprise's credit code, agency staff for their agency's, administrators and auditors as
themselves (their user id).
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.user import (
    ADMINISTRATOR,
    AGENCY_STAFF,
    AUDITOR,
    REPRESENTATIVE,
    TRADER,
    User,
)

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

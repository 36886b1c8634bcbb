"""Users for a role and a subject, created on first use: what the demo world, the load runs
and the tests hand out tokens for.

- ``enterprise`` / ``agency``: a user of that organisation (a trader and representative, or
  agency staff) with the login ``trader.<code>`` / ``staff.<code>``;
- ``representative``: the enterprise's second representative (login ``rep.<code>``), who
  confirms what the first one requests out of the account (`registry.representatives`);
- ``administrator`` / ``auditor``: a regulator or audit-body user with the login ``subject``,
  its role granted by the two founding administrators (four eyes), whom this bootstraps
  without passwords if the store has none yet (logins ``founder.one`` and ``founder.two``).

Local tooling only (it needs the data folder, like ``registry admin bootstrap``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from eventsourcing.application import AggregateNotFoundError

from domain.errors import NotFound
from domain.user import BootstrapMark

if TYPE_CHECKING:
    from registry.bootstrap import Registry

FOUNDERS = ("founder.one", "founder.two")


def founders(registry: Registry, at: str) -> tuple[str, str]:
    """The user ids of the two founding administrators, bootstrapped if missing."""
    ids = []
    for slot, login in zip(BootstrapMark.SLOTS, FOUNDERS, strict=True):
        try:
            ids.append(registry.repository.get(BootstrapMark.create_id(slot)).user_id)
        except AggregateNotFoundError:
            user, _ = registry.users.bootstrap_administrator(login=login, display_name=login,
                                                             password=None, at=at)
            ids.append(user.user_id)
    return ids[0], ids[1]


def user_for(registry: Registry, role: str, subject: str) -> Any:
    """The test user speaking as ``role`` for ``subject``, created on first use."""
    at = datetime.now(UTC).isoformat()
    if role in ("enterprise", "agency", "representative"):
        login = {"enterprise": "trader.", "agency": "staff.",
                 "representative": "rep."}[role] + subject.lower()
    else:
        login = subject.lower()
        if len(login) < 2:  # a one-letter test name still makes a valid login
            login = f"{role}-{login}"
    one, two = founders(registry, at)
    try:
        return registry.users.user_by_login(login)
    except NotFound:
        pass
    if role == "enterprise":
        return registry.users.create_user(login=login, display_name=f"Trader of {subject}",
                                          organisation="enterprise", organisation_code=subject,
                                          roles=["trader", "representative"], by=one, at=at)
    if role == "representative":
        return registry.users.create_user(login=login, display_name=f"Representative of {subject}",
                                          organisation="enterprise", organisation_code=subject,
                                          roles=["representative"], by=one, at=at)
    if role == "agency":
        return registry.users.create_user(login=login, display_name=f"Staff of {subject}",
                                          organisation="agency", organisation_code=subject,
                                          roles=["agency_staff"], by=one, at=at)
    organisation = "regulator" if role == "administrator" else "audit_body"
    user = registry.users.create_user(login=login, display_name=subject, organisation=organisation,
                                      roles=[], by=one, at=at)
    return registry.users.grant_role(
        user_id=user.user_id, role=role, by=one, approved_by=two, at=at)


def issue_in(registry: Registry, role: str, subject: str, *,
             days: int = 1) -> tuple[str, str]:
    """(token id, secret) of a new token of the test user for ``role`` and ``subject``."""
    user = user_for(registry, role, subject)
    return registry.users.issue_token(user_id=user.user_id, by=user.user_id,
                                      at=datetime.now(UTC).isoformat(), days=days)




def issue_many(registry: Registry, principals: list[tuple[str, str]], *,
               days: int = 1) -> dict[tuple[str, str], str]:
    """A token secret per (role, subject), the users created as needed."""
    return {(role, subject): issue_in(registry, role, subject, days=days)[1]
            for role, subject in principals}

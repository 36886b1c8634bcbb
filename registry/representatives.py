"""The second representative: inside an enterprise, nothing leaves its account on one
person's word (the EU Union Registry's additional authorised representative).

An agreement out of an enterprise's account is offered by one of its representatives; while
the enterprise requires a second representative (the default, `Enterprise.SecondRepresentativeSet`
changes it) the offer is a *request*: a `Proposal` naming the enterprise, stored in the
catalogue's ``enterprise_requests``. It takes effect only when a *different* active user holding
the representative role of the same enterprise confirms it: the act then runs as the requester
(``actor``) with the confirmer as ``approved_by`` and ``confirmed_by``, in the same transaction as
the request's ``Approved``. Another representative may reject it (the requester withdraws it),
and it expires like any proposal (``expire_proposals``, a scheduled job).

The units stay as they are until the confirmation: nothing is held for a request, so a
rejected or expired one has nothing to release; the confirmation runs the offer's every check
afresh (holdings, credit, trading zone, price band) and a refusal leaves the request pending.

Switching the requirement on is one representative's act; switching it off is itself a request
a second representative confirms. Exchange orders need none (the order book's own checks and
the flagged-trade four eyes apply). Off-exchange transfers are administrators' acts for
non-trade reasons (`registry.holdings`), not an enterprise's.
"""

from __future__ import annotations

from domain.errors import FourEyesViolation, NotFound, PermissionDenied
from domain.user import ADMINISTRATOR, ENTERPRISE, REPRESENTATIVE, User
from registry.app import RegistryBase, command
from registry.users import UserService, is_system


class SecondRepresentativeRequired(PermissionDenied):
    """The enterprise requires a second representative to confirm this; it was not given."""

    code = "second-representative-required"


class RepresentativeService:
    """Who may act for an enterprise, and its second-representative setting."""

    def __init__(self, core: RegistryBase, *, users: UserService) -> None:
        self.core = core
        self.users = users

    # -- who may -------------------------------------------------------------------------------

    def representative_of(self, actor: str, enterprise: str) -> User | None:
        """The acting user, an active representative of ``enterprise`` (local tools: None)."""
        if is_system(actor):
            return None
        try:
            u = self.users.user(actor)
        except NotFound:
            raise PermissionDenied(f"no user {actor}") from None
        u.check_active()
        if u.organisation != ENTERPRISE or u.organisation_code != enterprise:
            raise PermissionDenied(f"{u.login} is no user of {enterprise}")
        if not u.has_role(REPRESENTATIVE):
            raise PermissionDenied(f"this is an act of a representative of {enterprise}")
        return u

    def check_out_of_account(self, enterprise: str, *, by: str,
                             confirmed_by: str | None) -> None:
        """Units leave ``enterprise``'s account by its representative's act, confirmed by a
        second one while it requires it. Administrators (acting for the market, under their
        own four eyes at verification) and local tools are not inside the enterprise."""
        try:
            u = self.users.user(by)
        except NotFound:  # a local tool, or an in-process caller naming no user (as for
            return        # every command: the API always names the authenticated user)
        if u.has_role(ADMINISTRATOR):
            u.check_active()
            return
        self.representative_of(by, enterprise)
        if confirmed_by is not None:
            self.check_second_representative(enterprise, requested_by=by, by=confirmed_by)
        elif self.core.enterprise(enterprise).needs_second_representative:
            raise SecondRepresentativeRequired(
                f"{enterprise} requires a second representative to confirm this")

    def check_second_representative(self, enterprise: str, *, requested_by: str,
                                    by: str) -> None:
        if by == requested_by:
            raise FourEyesViolation("the requesting representative may not confirm its own "
                                    f"request; another representative of {enterprise} must")
        if is_system(by):
            raise PermissionDenied("a second representative is a person")
        self.representative_of(by, enterprise)

    # -- the setting ---------------------------------------------------------------------------

    @command
    def set_second_representative(self, *, credit_code: str, required: bool, by: str, at: str,
                                  confirmed_by: str | None = None) -> bool:
        """Require a second representative (one representative's act), or no longer (four
        eyes: a second representative confirms). Answers the setting now in force."""
        e = self.core.enterprise(credit_code)
        self.representative_of(by, credit_code)
        if not required:
            if confirmed_by is None:
                raise SecondRepresentativeRequired(
                    f"switching the second representative off for {credit_code} needs a "
                    "second representative's confirmation")
            self.check_second_representative(credit_code, requested_by=by, by=confirmed_by)
        e.set_second_representative(required=required, at=at)
        self.core.save(e)  # in the caller's acting context: a confirmation's names both
        return required

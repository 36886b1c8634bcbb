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

import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from domain.errors import FourEyesViolation, InvalidInput, NotFound, PermissionDenied
from domain.proposal import PENDING, Proposal
from domain.user import ADMINISTRATOR, ENTERPRISE, REPRESENTATIVE, User
from registry.acting import acting
from registry.app import command
from registry.proposals import DEFAULT_TTL_HOURS, MAX_TTL_HOURS, Action, check_params
from registry.users import is_system

if TYPE_CHECKING:
    from registry.bootstrap import Registry as _Base
else:
    _Base = object

SECTION = "enterprise_requests"

#: what a representative requests and a second representative confirms
REQUESTS: dict[str, Action] = {
    "offer_agreement": Action("offer_agreement", "seller"),
    "set_second_representative": Action("set_second_representative", "credit_code"),
}


class SecondRepresentativeRequired(PermissionDenied):
    """The enterprise requires a second representative to confirm this; it was not given."""

    code = "second-representative-required"


class RepresentativeCommands(_Base):
    # -- who may -------------------------------------------------------------------------------

    def representative_of(self, actor: str, enterprise: str) -> User | None:
        """The acting user, an active representative of ``enterprise`` (local tools: None)."""
        if is_system(actor):
            return None
        try:
            u = self.user(actor)
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
            u = self.user(by)
        except NotFound:  # a local tool, or an in-process caller naming no user (as for
            return        # every command: the API always names the authenticated user)
        if u.has_role(ADMINISTRATOR):
            u.check_active()
            return
        self.representative_of(by, enterprise)
        if confirmed_by is not None:
            self.check_second_representative(enterprise, requested_by=by, by=confirmed_by)
        elif self.enterprise(enterprise).needs_second_representative:
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

    # -- requests ------------------------------------------------------------------------------

    def enterprise_request(self, request_id: str, enterprise: str | None = None) -> Proposal:
        """One request; of another enterprise (when ``enterprise`` is given) it is not found."""
        p = self.proposal(request_id)
        if p.enterprise is None or (enterprise is not None and p.enterprise != enterprise):
            raise NotFound(f"request {request_id}")
        return p

    def enterprise_requests(self, *, enterprise: str | None = None, state: str | None = None,
                            at: str | None = None) -> list[Proposal]:
        """Requests, newest first: of one enterprise if given; ``state`` as of ``at`` (pending
        ones: only those pending now are loaded, picked by `registry.pending`, as `proposals`)."""
        listed = list(reversed(self.catalogue().entries.get(SECTION, [])))
        if state == PENDING:  # only those pending now can be pending as of ``at``
            indexed = self.states.of(self, [Proposal.create_id(p) for p in listed])
            listed = [p for p, s in zip(listed, indexed, strict=True) if s == PENDING]
        found = [self.proposal(p) for p in listed]
        return [p for p in found if enterprise in (None, p.enterprise)
                and (state is None or (p.state_at(at) if at else p.state) == state)]

    @command
    def request_as_representative(self, *, action: str, params: dict[str, Any], by: str,
                                  at: str, ttl_hours: int = DEFAULT_TTL_HOURS,
                                  request_id: str | None = None) -> Proposal:
        """A representative's request; it waits for a second representative."""
        check_params(self, action, params, REQUESTS)
        enterprise = str(params[REQUESTS[action].subject])
        self.enterprise(enterprise)  # NotFound for an unknown one
        if self.representative_of(by, enterprise) is None:
            raise PermissionDenied("a request is a representative's, never a local tool's")
        if action == "offer_agreement":  # checked now as it would be made (nothing held)
            self.agreement_offer(**params, offered_by=by, at=at)
        if not isinstance(ttl_hours, int) or not 0 < ttl_hours <= MAX_TTL_HOURS:
            raise InvalidInput(f"a request is open 1 to {MAX_TTL_HOURS} hours")
        expires = (datetime.fromisoformat(at) + timedelta(hours=ttl_hours)).isoformat()
        p = Proposal.propose(proposal_id=request_id or "R-" + uuid.uuid4().hex[:16],
                             action=action, params=params, subject=enterprise,
                             proposed_by=by, at=at, expires_at=expires, enterprise=enterprise)
        catalogue = self.catalogue()
        catalogue.add(section=SECTION, key=p.proposal_id)
        with acting(by):
            self.save(p, catalogue)
        return p

    def confirm_request(self, *, request_id: str, by: str, at: str) -> Any:
        """The second representative confirms: the act runs as the requester, confirmed by
        ``by``, in the same transaction as the request's ``Approved``."""
        p = self.enterprise_request(request_id)
        p.check_approver(by=by, at=at)
        assert p.enterprise is not None
        self.check_second_representative(p.enterprise, requested_by=p.proposed_by, by=by)
        self.representative_of(p.proposed_by, p.enterprise)  # a suspended requester's lapse
        return self.take_effect(p, REQUESTS[p.action], by=by, at=at)

    @command
    def reject_request(self, *, request_id: str, by: str, reason: str, at: str) -> Proposal:
        """Another representative of the enterprise rejects it (the requester withdraws)."""
        p = self.enterprise_request(request_id)
        assert p.enterprise is not None
        self.representative_of(by, p.enterprise)
        p.reject(by=by, reason=reason, at=at)
        with acting(by):
            self.save(p)
        return p

    @command
    def withdraw_request(self, *, request_id: str, by: str, at: str) -> Proposal:
        p = self.enterprise_request(request_id)
        p.withdraw(by=by, at=at)
        with acting(by):
            self.save(p)
        return p

    # -- the setting ---------------------------------------------------------------------------

    @command
    def set_second_representative(self, *, credit_code: str, required: bool, by: str, at: str,
                                  confirmed_by: str | None = None) -> bool:
        """Require a second representative (one representative's act), or no longer (four
        eyes: a second representative confirms). Answers the setting now in force."""
        e = self.enterprise(credit_code)
        self.representative_of(by, credit_code)
        if not required:
            if confirmed_by is None:
                raise SecondRepresentativeRequired(
                    f"switching the second representative off for {credit_code} needs a "
                    "second representative's confirmation")
            self.check_second_representative(credit_code, requested_by=by, by=confirmed_by)
        e.set_second_representative(required=required, at=at)
        self.save(e)  # in the caller's acting context: a confirmation's names both
        return required

"""A representative's requests inside an enterprise, confirmed (or rejected) by a second
representative: the rules are `registry.representatives`'; a request is a `Proposal` in the
catalogue's ``enterprise_requests`` (listed by `registry.proposals`)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from domain.errors import InvalidInput, PermissionDenied
from domain.proposal import Proposal
from registry.acting import acting
from registry.app import RegistryBase, command
from registry.exchange_modes import ExchangeModes
from registry.proposals import (
    DEFAULT_TTL_HOURS,
    MAX_TTL_HOURS,
    REQUEST_SECTION,
    Action,
    ProposalService,
    check_params,
)
from registry.representatives import RepresentativeService

#: what a representative requests and a second representative confirms
REQUESTS: dict[str, Action] = {
    "offer_agreement": Action("offer_agreement", "seller"),
    "set_second_representative": Action("set_second_representative", "credit_code"),
}



class EnterpriseRequests:
    """A representative's requests, confirmed by a second representative."""

    def __init__(self, core: RegistryBase, *, proposals: ProposalService,
                 representatives: RepresentativeService,
                 exchange_modes: ExchangeModes) -> None:
        self.core = core
        self.proposals = proposals
        self.representatives = representatives
        self.exchange_modes = exchange_modes
        #: the commands a confirmed request brings into effect, by action name
        self.acts: dict[str, Callable[..., Any]] = {
            "offer_agreement": exchange_modes.offer_agreement,
            "set_second_representative": representatives.set_second_representative,
        }

    @command
    def request_as_representative(self, *, action: str, params: dict[str, Any], by: str,
                                  at: str, ttl_hours: int = DEFAULT_TTL_HOURS,
                                  request_id: str | None = None) -> Proposal:
        """A representative's request; it waits for a second representative."""
        check_params(self.acts, action, params, REQUESTS)
        enterprise = str(params[REQUESTS[action].subject])
        self.core.enterprise(enterprise)  # NotFound for an unknown one
        if self.representatives.representative_of(by, enterprise) is None:
            raise PermissionDenied("a request is a representative's, never a local tool's")
        if action == "offer_agreement":  # checked now as it would be made (nothing held)
            self.exchange_modes.agreement_offer(**params, offered_by=by, at=at)
        if not isinstance(ttl_hours, int) or not 0 < ttl_hours <= MAX_TTL_HOURS:
            raise InvalidInput(f"a request is open 1 to {MAX_TTL_HOURS} hours")
        expires = (datetime.fromisoformat(at) + timedelta(hours=ttl_hours)).isoformat()
        p = Proposal.propose(proposal_id=request_id or "R-" + uuid.uuid4().hex[:16],
                             action=action, params=params, subject=enterprise,
                             proposed_by=by, at=at, expires_at=expires, enterprise=enterprise)
        catalogue = self.core.catalogue()
        catalogue.add(section=REQUEST_SECTION, key=p.proposal_id)
        with acting(by):
            self.core.save(p, catalogue)
        return p

    def confirm_request(self, *, request_id: str, by: str, at: str) -> Any:
        """The second representative confirms: the act runs as the requester, confirmed by
        ``by``, in the same transaction as the request's ``Approved``."""
        p = self.proposals.enterprise_request(request_id)
        p.check_approver(by=by, at=at)
        assert p.enterprise is not None
        self.representatives.check_second_representative(p.enterprise,
                                                         requested_by=p.proposed_by, by=by)
        # a suspended requester's lapse
        self.representatives.representative_of(p.proposed_by, p.enterprise)
        return self.proposals.take_effect(p, self.acts[p.action], by=by, at=at)

    @command
    def reject_request(self, *, request_id: str, by: str, reason: str, at: str) -> Proposal:
        """Another representative of the enterprise rejects it (the requester withdraws)."""
        p = self.proposals.enterprise_request(request_id)
        assert p.enterprise is not None
        self.representatives.representative_of(by, p.enterprise)
        p.reject(by=by, reason=reason, at=at)
        with acting(by):
            self.core.save(p)
        return p

    @command
    def withdraw_request(self, *, request_id: str, by: str, at: str) -> Proposal:
        p = self.proposals.enterprise_request(request_id)
        p.withdraw(by=by, at=at)
        with acting(by):
            self.core.save(p)
        return p

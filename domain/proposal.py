"""Proposals: the four-eyes principle for sensitive acts.

One user proposes an act (an ``action`` name and its JSON parameters); it takes effect only
when a *different* administrator approves it, and the act's events then carry both the
proposer (``actor``) and the approver (``approved_by``). A proposal may be rejected by any
administrator other than its proposer, withdrawn by its proposer, and it expires: after
``expires_at`` it can no longer be approved.

Inside an enterprise the same record serves the second representative (the EU's additional
authorised representative): a proposal naming its ``enterprise`` is a request of one of that
enterprise's representatives (an agreement out of its account, switching the requirement
off), confirmed or rejected by a *different* representative of the same enterprise, never by
an administrator (`registry.representatives`). ``Proposed`` carries ``enterprise`` (null for
an administrators' proposal); one stored before it existed replays with the default, None.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.errors import FourEyesViolation, InvalidInput, InvalidState
from domain.topics import aggregate_topic, event_topic, natural_id

PENDING = "pending"
APPROVED = "approved"
REJECTED = "rejected"
WITHDRAWN = "withdrawn"
EXPIRED = "expired"


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        raise InvalidInput(f"not an ISO 8601 time: {text!r}") from None
    if moment.tzinfo is None:
        raise InvalidInput(f"a time needs its UTC offset: {text!r}")
    return moment


class Proposal(Aggregate):
    TOPIC = aggregate_topic("Proposal")

    class Created(Aggregate.Created):
        TOPIC = event_topic("Proposal", "Created")

    @staticmethod
    def create_id(proposal_id: str, **_: Any) -> UUID:
        return natural_id(f"/proposals/{proposal_id}")

    @classmethod
    def propose(cls, *, proposal_id: str, action: str, params: dict[str, Any], subject: str,
                proposed_by: str, at: str, expires_at: str,
                enterprise: str | None = None) -> Proposal:
        if not proposal_id.strip() or not action.strip():
            raise InvalidInput("a proposal needs an id and an action")
        if not proposed_by.strip():
            raise InvalidInput("a proposal names its proposer")
        if _moment(expires_at) <= _moment(at):
            raise InvalidInput("a proposal expires after it is made")
        return cls(proposal_id=proposal_id, action=action, params=params, subject=subject,
                   proposed_by=proposed_by, at=at, expires_at=expires_at,
                   enterprise=enterprise)

    @event("Proposed", topic=event_topic("Proposal", "Proposed"))
    def __init__(self, proposal_id: str, action: str, params: dict[str, Any], subject: str,
                 proposed_by: str, at: str, expires_at: str,
                 enterprise: str | None = None) -> None:
        self.proposal_id = proposal_id
        self.action = action
        self.params = params
        #: what the act is about (an enterprise's credit code, a retrofit, a user…), for lists
        self.subject = subject
        self.proposed_by = proposed_by
        self.proposed_at = at
        self.expires_at = expires_at
        self.state = PENDING
        self.decided_by: str | None = None
        self.decided_at: str | None = None
        self.reason: str | None = None
        self.result: Any = None
        #: the enterprise whose second representative confirms it (None: administrators)
        self.enterprise = enterprise

    def state_at(self, at: str) -> str:
        """The state as of ``at``: a pending proposal past its expiry reads expired."""
        if self.state == PENDING and _moment(at) >= _moment(self.expires_at):
            return EXPIRED
        return self.state

    def _check_open(self, at: str) -> None:
        state = self.state_at(at)
        if state != PENDING:
            raise InvalidState(f"proposal {self.proposal_id} is {state}")

    def check_approver(self, *, by: str, at: str) -> None:
        """Four eyes by user id: the approver is not the proposer; the proposal is open."""
        self._check_open(at)
        if by == self.proposed_by:
            who = ("another representative of " + self.enterprise if self.enterprise
                   else "another administrator")
            raise FourEyesViolation(f"proposal {self.proposal_id} was proposed by this user; "
                                    f"{who} must approve it")

    def approve(self, *, by: str, at: str, result: Any = None) -> None:
        self.check_approver(by=by, at=at)
        self._approved(by=by, at=at, result=result)

    @event("Approved", topic=event_topic("Proposal", "Approved"))
    def _approved(self, by: str, at: str, result: Any) -> None:
        self.state, self.decided_by, self.decided_at = APPROVED, by, at
        self.result = result

    def reject(self, *, by: str, reason: str, at: str) -> None:
        self._check_open(at)
        if by == self.proposed_by:
            raise FourEyesViolation("a proposer withdraws its own proposal rather than "
                                    "rejecting it")
        if not reason.strip():
            raise InvalidInput("a rejection needs a reason")
        self._rejected(by=by, reason=reason, at=at)

    @event("Rejected", topic=event_topic("Proposal", "Rejected"))
    def _rejected(self, by: str, reason: str, at: str) -> None:
        self.state, self.decided_by, self.decided_at, self.reason = REJECTED, by, at, reason

    def withdraw(self, *, by: str, at: str) -> None:
        self._check_open(at)
        if by != self.proposed_by:
            raise FourEyesViolation("only the proposer withdraws a proposal")
        self._withdrawn(by=by, at=at)

    @event("Withdrawn", topic=event_topic("Proposal", "Withdrawn"))
    def _withdrawn(self, by: str, at: str) -> None:
        self.state, self.decided_by, self.decided_at = WITHDRAWN, by, at

    def expire(self, *, at: str) -> None:
        """Record the expiry (a scheduled job's act); only a pending proposal past its time."""
        if self.state != PENDING or self.state_at(at) != EXPIRED:
            raise InvalidState(f"proposal {self.proposal_id} is not due to expire")
        self._expired(at=at)

    @event("Expired", topic=event_topic("Proposal", "Expired"))
    def _expired(self, at: str) -> None:
        self.state, self.decided_at = EXPIRED, at

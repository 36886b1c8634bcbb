"""Four eyes on every sensitive act: propose, then a *different* administrator approves.

An act is an ``action`` name from `ACTIONS` with its parameters (JSON values). Proposing checks
the parameters against the command's signature and stores a `Proposal`; nothing else changes.
Approving runs the command as the proposer (``actor``) with the approver as ``approved_by``,
and stores the proposal's ``Approved`` event in the same transaction as the act (or, if the
act is refused, neither: the proposal stays pending and the refusal is the answer). The
command's ``administrator`` argument, where it has one, is the proposer's user id.
"""

from __future__ import annotations

import inspect
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from domain.errors import InvalidInput, PermissionDenied
from domain.proposal import PENDING, Proposal
from domain.user import ADMINISTRATOR
from registry.acting import acting, along, current
from registry.app import command

if TYPE_CHECKING:
    from registry.bootstrap import Registry as _Base
else:
    _Base = object

DEFAULT_TTL_HOURS = 72
MAX_TTL_HOURS = 24 * 30


@dataclass(frozen=True)
class Action:
    """A command that only a proposal brings into effect, and what names its subject."""

    method: str
    subject: str  # the parameter naming what the act is about

    def signature(self, registry: Any) -> inspect.Signature:
        return inspect.signature(getattr(registry, self.method))


ACTIONS: dict[str, Action] = {
    "confirm_retrofit": Action("confirm_retrofit", "reference"),
    "issue_surplus": Action("issue_surplus", "reference"),
    "deposit": Action("deposit", "enterprise"),
    "withdraw": Action("withdraw", "enterprise"),
    "freeze": Action("freeze", "owner"),
    "unfreeze": Action("unfreeze", "ref"),
    "revoke_retrofit": Action("revoke_retrofit", "reference"),
    "set_obligation": Action("set_obligation", "credit_code"),
    "restrict_enterprise": Action("restrict_enterprise", "credit_code"),
    "restore_enterprise": Action("restore_enterprise", "credit_code"),
    "restrict_agency": Action("restrict_agency", "credit_code"),
    "restore_agency": Action("restore_agency", "credit_code"),
    "open_market": Action("open_market", "instrument"),
    "set_market_parameters": Action("set_market_parameters", "instrument"),
    "adopt_rules": Action("adopt_rules", "version"),
    "grant_role": Action("grant_role", "user_id"),
    # a failing spot check revokes (clawback) and restricts credit records; a pass is direct
    "record_sampling_outcome": Action("record_sampling_outcome", "retrofit"),
}
#: filled in at approval, never proposed
_FILLED = {"at", "administrator", "by", "offered_by", "approved_by", "confirmed_by", "actor",
           "self"}


def check_params(registry: Any, action: str, params: dict[str, Any],
                 actions: dict[str, Action] = ACTIONS) -> None:
    """The parameters name exactly what the command takes (no more; every required one)."""
    spec = actions.get(action)
    if spec is None:
        raise InvalidInput(f"no action {action!r}; one of {', '.join(sorted(actions))}")
    signature = spec.signature(registry)
    takes_any = any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values())
    named = {n: p for n, p in signature.parameters.items()
             if n not in _FILLED and p.kind is p.KEYWORD_ONLY}
    unknown = set(params) - set(named) - _FILLED if not takes_any else set()
    if unknown or set(params) & _FILLED:
        bad = sorted(unknown | (set(params) & _FILLED))
        raise InvalidInput(f"{action} takes no parameter {', '.join(bad)}")
    missing = [n for n, p in named.items() if p.default is p.empty and n not in params]
    if missing:
        raise InvalidInput(f"{action} needs {', '.join(missing)}")
    if spec.subject not in params:
        raise InvalidInput(f"{action} needs {spec.subject}")


class ProposalCommands(_Base):
    def proposal(self, proposal_id: str) -> Proposal:
        p: Proposal = self._get(Proposal, Proposal.create_id(proposal_id),
                                f"proposal {proposal_id}")
        return p

    def proposals(self, *, state: str | None = None, at: str | None = None) -> list[Proposal]:
        """Every proposal, newest first; ``state`` as of ``at`` (expired ones read expired)."""
        listed = list(reversed(self.catalogue().entries.get("proposals", [])))
        if state == PENDING:  # only those pending now can be pending as of ``at``
            indexed = self.states.of(self, [Proposal.create_id(p) for p in listed])
            listed = [p for p, s in zip(listed, indexed, strict=True) if s == PENDING]
        found = [self.proposal(p) for p in listed]
        if state is None:
            return found
        return [p for p in found if (p.state_at(at) if at else p.state) == state]

    @command
    def propose(self, *, action: str, params: dict[str, Any], by: str, at: str,
                ttl_hours: int = DEFAULT_TTL_HOURS, proposal_id: str | None = None) -> Proposal:
        """Propose an act (administrators); it waits for another administrator."""
        self.check_acting_role(by, ADMINISTRATOR)
        check_params(self, action, params)
        if not isinstance(ttl_hours, int) or not 0 < ttl_hours <= MAX_TTL_HOURS:
            raise InvalidInput(f"a proposal is open 1 to {MAX_TTL_HOURS} hours")
        expires = (datetime.fromisoformat(at) + timedelta(hours=ttl_hours)).isoformat()
        p = Proposal.propose(proposal_id=proposal_id or "P-" + uuid.uuid4().hex[:16],
                             action=action,
                             params=params, subject=str(params[ACTIONS[action].subject]),
                             proposed_by=by, at=at, expires_at=expires)
        catalogue = self.catalogue()
        catalogue.add(section="proposals", key=p.proposal_id)
        with acting(by):
            self.save(p, catalogue)
        return p

    def approve_proposal(self, *, proposal_id: str, by: str, at: str) -> Any:
        """Four eyes: an active administrator other than the proposer approves; the act runs
        as the proposer, approved by ``by``, in the same transaction as the approval."""
        self.check_acting_role(by, ADMINISTRATOR)
        p = self.proposal(proposal_id)
        if p.enterprise is not None:
            raise PermissionDenied(f"proposal {proposal_id} is a request inside "
                                   f"{p.enterprise}: a second representative confirms it")
        p.check_approver(by=by, at=at)
        self.check_acting_role(p.proposed_by, ADMINISTRATOR)  # a suspended proposer's lapse
        return self.take_effect(p, ACTIONS[p.action], by=by, at=at)

    def take_effect(self, p: Proposal, spec: Action, *, by: str, at: str) -> Any:
        """Run the proposed act as its proposer, approved by ``by``, and store the proposal's
        ``Approved`` in the same transaction (nothing of either if the act is refused)."""
        proposal_id = p.proposal_id

        def approved() -> list[Any]:
            fresh = self.proposal(proposal_id)  # afresh on every attempt of the act's save
            fresh.approve(by=by, at=at)
            for e in fresh.pending_events:
                e.__dict__["actor"] = by
            return [fresh]

        kwargs = dict(p.params, at=at)
        names = spec.signature(self).parameters
        if "administrator" in names:
            kwargs["administrator"] = p.proposed_by
        for name in ("by", "offered_by", "actor"):
            if name in names:
                kwargs[name] = p.proposed_by
        for name in ("approved_by", "confirmed_by"):
            if name in names:
                kwargs[name] = by
        with acting(p.proposed_by, approved_by=by), along(approved):
            result = getattr(self, spec.method)(**kwargs)
            state = current()
            if state is not None and approved in state.along:  # the act saved nothing
                self.save()
        return result

    @command
    def reject_proposal(self, *, proposal_id: str, by: str, reason: str, at: str) -> Proposal:
        self.check_acting_role(by, ADMINISTRATOR)
        p = self.proposal(proposal_id)
        if p.enterprise is not None:
            raise PermissionDenied(f"proposal {proposal_id} is a request inside "
                                   f"{p.enterprise}: its representatives decide it")
        p.reject(by=by, reason=reason, at=at)
        with acting(by):
            self.save(p)
        return p

    @command
    def withdraw_proposal(self, *, proposal_id: str, by: str, at: str) -> Proposal:
        p = self.proposal(proposal_id)
        p.withdraw(by=by, at=at)
        with acting(by):
            self.save(p)
        return p

    @command
    def expire_proposals(self, *, at: str) -> int:
        """Record the expiry of every pending proposal past its time (a scheduled job)."""
        pending = self.proposals(state=PENDING) + self.enterprise_requests(state=PENDING)
        due = [p for p in pending if p.state_at(at) != PENDING]
        for p in due:
            p.expire(at=at)
        if due:
            with acting("system:proposal-expiry"):
                self.save(*due)
        return len(due)

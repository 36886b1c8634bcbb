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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from domain.errors import InvalidInput, NotFound, PermissionDenied
from domain.proposal import PENDING, Proposal
from domain.user import ADMINISTRATOR
from registry.acting import acting, along, current
from registry.app import RegistryBase, command
from registry.users import UserService

DEFAULT_TTL_HOURS = 72
#: the catalogue's section of the requests inside an enterprise (`registry.representatives`)
REQUEST_SECTION = "enterprise_requests"
MAX_TTL_HOURS = 24 * 30


@dataclass(frozen=True)
class Action:
    """A command that only a proposal brings into effect, and what names its subject."""

    method: str
    subject: str  # the parameter naming what the act is about

    def signature(self, acts: Mapping[str, Callable[..., Any]]) -> inspect.Signature:
        return inspect.signature(acts[self.method])


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


def check_params(acts: Mapping[str, Callable[..., Any]], action: str, params: dict[str, Any],
                 actions: dict[str, Action] = ACTIONS) -> None:
    """The parameters name exactly what the command takes (no more; every required one)."""
    spec = actions.get(action)
    if spec is None:
        raise InvalidInput(f"no action {action!r}; one of {', '.join(sorted(actions))}")
    signature = spec.signature(acts)
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


class ProposalService:
    """Four eyes on the sensitive acts of every area, and the proposals' listings (an
    enterprise's requests, `registry.representatives`, are proposals too)."""

    def __init__(self, core: RegistryBase, *, users: UserService,
                 acts: Mapping[str, Callable[..., Any]]) -> None:
        if set(acts) != set(ACTIONS):
            differ = sorted(set(acts) ^ set(ACTIONS))
            raise ValueError(f"the proposals' acts differ from ACTIONS: {differ}")
        self.core = core
        self.users = users
        #: the command each action of `ACTIONS` brings into effect
        self.acts = dict(acts)

    def proposal(self, proposal_id: str) -> Proposal:
        p: Proposal = self.core.load(Proposal, Proposal.create_id(proposal_id),
                                     f"proposal {proposal_id}")
        return p

    def proposals(self, *, state: str | None = None, at: str | None = None) -> list[Proposal]:
        """Every proposal, newest first; ``state`` as of ``at`` (expired ones read expired)."""
        listed = list(reversed(self.core.catalogue().entries.get("proposals", [])))
        if state == PENDING:  # only those pending now can be pending as of ``at``
            indexed = self.core.states.of(self.core, [Proposal.create_id(p) for p in listed])
            listed = [p for p, s in zip(listed, indexed, strict=True) if s == PENDING]
        found = [self.proposal(p) for p in listed]
        if state is None:
            return found
        return [p for p in found if (p.state_at(at) if at else p.state) == state]

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
        listed = list(reversed(self.core.catalogue().entries.get(REQUEST_SECTION, [])))
        if state == PENDING:  # only those pending now can be pending as of ``at``
            indexed = self.core.states.of(self.core, [Proposal.create_id(p) for p in listed])
            listed = [p for p, s in zip(listed, indexed, strict=True) if s == PENDING]
        found = [self.proposal(p) for p in listed]
        return [p for p in found if enterprise in (None, p.enterprise)
                and (state is None or (p.state_at(at) if at else p.state) == state)]

    @command
    def propose(self, *, action: str, params: dict[str, Any], by: str, at: str,
                ttl_hours: int = DEFAULT_TTL_HOURS, proposal_id: str | None = None) -> Proposal:
        """Propose an act (administrators); it waits for another administrator."""
        self.users.check_acting_role(by, ADMINISTRATOR)
        check_params(self.acts, action, params)
        if not isinstance(ttl_hours, int) or not 0 < ttl_hours <= MAX_TTL_HOURS:
            raise InvalidInput(f"a proposal is open 1 to {MAX_TTL_HOURS} hours")
        expires = (datetime.fromisoformat(at) + timedelta(hours=ttl_hours)).isoformat()
        p = Proposal.propose(proposal_id=proposal_id or "P-" + uuid.uuid4().hex[:16],
                             action=action,
                             params=params, subject=str(params[ACTIONS[action].subject]),
                             proposed_by=by, at=at, expires_at=expires)
        catalogue = self.core.catalogue()
        catalogue.add(section="proposals", key=p.proposal_id)
        with acting(by):
            self.core.save(p, catalogue)
        return p

    def approve_proposal(self, *, proposal_id: str, by: str, at: str) -> Any:
        """Four eyes: an active administrator other than the proposer approves; the act runs
        as the proposer, approved by ``by``, in the same transaction as the approval."""
        self.users.check_acting_role(by, ADMINISTRATOR)
        p = self.proposal(proposal_id)
        if p.enterprise is not None:
            raise PermissionDenied(f"proposal {proposal_id} is a request inside "
                                   f"{p.enterprise}: a second representative confirms it")
        p.check_approver(by=by, at=at)
        self.users.check_acting_role(p.proposed_by, ADMINISTRATOR)  # a suspended proposer's lapse
        return self.take_effect(p, self.acts[p.action], by=by, at=at)

    def take_effect(self, p: Proposal, act: Callable[..., Any], *, by: str, at: str) -> Any:
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
        names = inspect.signature(act).parameters
        if "administrator" in names:
            kwargs["administrator"] = p.proposed_by
        for name in ("by", "offered_by", "actor"):
            if name in names:
                kwargs[name] = p.proposed_by
        for name in ("approved_by", "confirmed_by"):
            if name in names:
                kwargs[name] = by
        with acting(p.proposed_by, approved_by=by), along(approved):
            result = act(**kwargs)
            state = current()
            if state is not None and approved in state.along:  # the act saved nothing
                self.core.save()
        return result

    @command
    def reject_proposal(self, *, proposal_id: str, by: str, reason: str, at: str) -> Proposal:
        self.users.check_acting_role(by, ADMINISTRATOR)
        p = self.proposal(proposal_id)
        if p.enterprise is not None:
            raise PermissionDenied(f"proposal {proposal_id} is a request inside "
                                   f"{p.enterprise}: its representatives decide it")
        p.reject(by=by, reason=reason, at=at)
        with acting(by):
            self.core.save(p)
        return p

    @command
    def withdraw_proposal(self, *, proposal_id: str, by: str, at: str) -> Proposal:
        p = self.proposal(proposal_id)
        p.withdraw(by=by, at=at)
        with acting(by):
            self.core.save(p)
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
                self.core.save(*due)
        return len(due)

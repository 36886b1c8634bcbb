"""Trading rules as data: the versions known, the one in force, and adopting a version, which
is a sensitive act (four eyes): it answers 202 with a proposal a second administrator approves
at ``/proposals/{id}/approve``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from api.deps import Administrator, Auditor, RegistryDep, StateDep, now
from api.routes.proposals import PROPOSED, ProposalPublic, proposed
from api.schemas.rules import Adoption, RulesPublic

router = APIRouter(prefix="/rules", tags=["rules"])


@router.get("")
def rules(_: Auditor, registry: RegistryDep) -> RulesPublic:
    catalogue = registry.catalogue()
    return RulesPublic(versions=registry.rulebook(catalogue).versions(),
                       in_force=registry.current_rules(now(), catalogue).version,
                       history=list(catalogue.rules_history))


@router.post("/adoptions", status_code=202, responses=PROPOSED)
def adopt(body: Adoption, user: Administrator, registry: RegistryDep, state: StateDep,
          response: Response) -> ProposalPublic:
    """Propose putting a known rule version in force; a second administrator approves it."""
    registry.rulebook().get(body.version)  # an unknown version is refused now (422)
    params: dict[str, Any] = {"version": body.version}
    if body.effective_from is not None:
        params["effective_from"] = body.effective_from
    return proposed(state, response, user.actor, "adopt_rules", **params)

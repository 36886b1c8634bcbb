"""Trading rules as data: the versions known, the one in force, and adopting a version, which
is a sensitive act (four eyes): it answers 202 with a proposal a second administrator approves
at ``/proposals/{id}/approve``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from api.deps import Administrator, Auditor, RegistryDep, now
from api.routes.proposals import PROPOSED, ProposalPublic, proposed

router = APIRouter(prefix="/rules", tags=["rules"])


class RulesPublic(BaseModel):
    model_config = ConfigDict(extra="forbid")
    versions: list[str]
    in_force: str = Field(description="the version in force today (issuance, new instruments)")
    history: list[dict[str, Any]] = Field(description="every adoption, oldest first")


class Adoption(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: Annotated[str, Field(min_length=1, max_length=64)]
    effective_from: Annotated[str | None, Field(
        pattern=r"^\d{4}-\d{2}-\d{2}$",
        description="ISO date it is in force from (default: the approval's day)")] = None


@router.get("")
def rules(_: Auditor, registry: RegistryDep) -> RulesPublic:
    catalogue = registry.catalogue()
    return RulesPublic(versions=registry.rulebook(catalogue).versions(),
                       in_force=registry.current_rules(now(), catalogue).version,
                       history=list(catalogue.rules_history))


@router.post("/adoptions", status_code=202, responses=PROPOSED)
def adopt(body: Adoption, user: Administrator, registry: RegistryDep,
          response: Response) -> ProposalPublic:
    """Propose putting a known rule version in force; a second administrator approves it."""
    registry.rulebook().get(body.version)  # an unknown version is refused now (422)
    params: dict[str, Any] = {"version": body.version}
    if body.effective_from is not None:
        params["effective_from"] = body.effective_from
    return proposed(registry, response, user.actor, "adopt_rules", **params)

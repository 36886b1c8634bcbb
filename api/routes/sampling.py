"""Spot-check sampling rounds (§20): administrators open a round for a period and record
outcomes; administrators and auditors read rounds.

Opening fixes the population, brings the ledger up to date (a signed checkpoint then covers
the opening) and draws the sample from the ledger's seed, in that order, in the one request
(`registry.sampling`); ``POST …/draw`` draws a round whose draw did not complete. A failed
outcome is a proposal (four eyes): its approval revokes the retrofit under the clawback policy
and restricts the enterprise and the agencies at fault, in the same save. ``registry audit
sample`` re-derives a round's sample offline from a ledger export.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from api.auth import require
from api.deps import Administrator, Page, PageDep, RegistryDep, StateDep, now, paginate
from api.ledger_refs import all_recorded, recorded
from api.routes.proposals import PROPOSED, proposed
from api.schemas.proposals import ProposalPublic
from api.schemas.sampling import (
    OutcomeCreate,
    OutcomePublic,
    RoundCreate,
    RoundPublic,
    RoundRecorded,
)
from api.tokens import Principal
from registry.sampling import sample_view

router = APIRouter(prefix="/sampling-rounds", tags=["sampling"])
Reader = Annotated[Principal, Depends(require("administrator", "auditor"))]


def _draw(state: StateDep, reference: str, actor: str, before: int) -> RoundRecorded:
    """Draw the round and answer it with the round's leaves since ``before``: the first as
    ``ledger`` (its Opened, or its Drawn for a draw alone), the others as ``effects``."""
    registry = state.registry
    ledger = state.caught_up()
    with state.lock:  # no catch-up appends while the seed is read
        round_ = registry.sampling.draw_sampling_round(reference=reference, ledger=ledger,
                                                       actor=actor, at=now())
    refs = all_recorded(state, before, subject_type="sampling_round", subject=reference)
    return RoundRecorded.model_validate({**sample_view(round_), "effects": refs[1:],
                                         "ledger": refs[0] if refs else None})


@router.post("", status_code=status.HTTP_201_CREATED)
def open_round(body: RoundCreate, user: Administrator, state: StateDep) -> RoundRecorded:
    """Open a round for ``period`` (one per period) and draw its sample from the ledger."""
    kwargs = {"rules_version": body.rules_version} if body.rules_version else {}
    before = state.registry.queries.position()
    state.registry.sampling.open_sampling_round(reference=body.reference, period=body.period,
                                                actor=user.actor, at=now(), **kwargs)
    return _draw(state, body.reference, user.subject, before)


@router.post("/{reference}/draw")
def draw_round(reference: str, user: Administrator, state: StateDep) -> RoundRecorded:
    """Draw an opened round's sample (409 if drawn already)."""
    return _draw(state, reference, user.subject, state.registry.queries.position())


@router.get("")
def list_rounds(_: Reader, registry: RegistryDep, page: PageDep) -> Page[RoundPublic]:
    """Every round, in opening order."""
    return paginate([RoundPublic.model_validate(sample_view(r))
                     for r in registry.sampling.sampling_rounds()], page)


@router.get("/{reference}")
def show_round(reference: str, _: Reader, registry: RegistryDep) -> RoundPublic:
    """One round: population, seed, sample, outcomes."""
    return RoundPublic.model_validate(sample_view(registry.sampling.sampling_round(reference)))


@router.post("/{reference}/outcomes", status_code=status.HTTP_201_CREATED,
             responses={202: {**PROPOSED[202], "model": ProposalPublic}})
def record_outcome(reference: str, body: OutcomeCreate, user: Administrator,
                   state: StateDep, response: Response) -> OutcomePublic | ProposalPublic:
    """One sampled retrofit's outcome. ``pass`` is recorded at once (201); ``fail`` answers
    202 with a proposal (four eyes): once a second administrator approves it, it revokes
    the retrofit (clawback) and writes the credit records of the enterprise and the agencies
    at fault."""
    params = {"reference": reference, "retrofit": body.retrofit, "result": body.result,
              "findings": body.findings, "report_sha256": body.report_sha256,
              "measured": dict(body.measured) if body.measured is not None else None,
              "agencies_at_fault": body.agencies_at_fault}
    registry = state.registry
    if body.result == "fail":
        registry.sampling.check_sampling_outcome(**params, actor=user.actor)
        return proposed(state, response, user.actor, "record_sampling_outcome", **params)
    before = registry.queries.position()
    outcome = registry.sampling.record_sampling_outcome(**params, actor=user.actor, at=now())
    return OutcomePublic.model_validate({
        **outcome,
        "ledger": recorded(state, before, subject_type="sampling_round", subject=reference),
        "effects": all_recorded(state, before, subject_type="retrofit", subject=body.retrofit)})

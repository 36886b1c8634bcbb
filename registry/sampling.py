"""Sampling rounds (§20 spot checks): open, draw from the ledger's seed, record outcomes.

``open_sampling_round`` fixes the population from the registry's state in the round's
``Opened`` event; once the ledger holds that event, ``draw_sampling_round`` takes the seed from
the ledger (the root of the tree at the size that first includes the opening, see
`domain.sampling`) and records the sample; ``record_sampling_outcome`` records one outcome, and
a failure revokes the retrofit through the revocation command's own changes
(`RetrofitService.revocation_into`) with the credit records, all in one save.
"""

from __future__ import annotations

from typing import Any

from domain.errors import AlreadyExists, InvalidInput, InvalidState, NotFound
from domain.retrofit import REVOKED
from domain.sampling import (
    CURRENT_SAMPLING_RULES,
    FAIL,
    SamplingPeriod,
    SamplingRound,
    candidates,
    population,
    sampling_rules,
)
from ledger.checkpoint import read_checkpoint_unverified
from ledger.log import Ledger
from registry.app import RegistryBase, command
from registry.exchange_writes import ExchangeWrites
from registry.ledger_follower import decode_leaf
from registry.lifecycle import Changes, LifecycleService
from registry.retrofits import RetrofitService

SECTION = "sampling_rounds"


def opening_leaf_index(ledger: Ledger, round_id: str) -> int:
    """The ledger index of a round's ``Opened`` leaf, searched from the newest leaf back (the
    draw follows the opening closely, so the search is short)."""
    for index in range(ledger.size - 1, -1, -1):
        record = decode_leaf(ledger.leaf(index))
        if record.get("aggregate_id") == round_id and record.get("version") == 1:
            return index
    raise InvalidState("the ledger holds no leaf of the round's opening yet; bring the ledger "
                       "up to date and draw again")


class SamplingService:
    """Spot-check rounds: the population, the draw, and each outcome."""

    def __init__(self, core: RegistryBase, *, exchange_writes: ExchangeWrites,
                 lifecycle: LifecycleService, retrofits: RetrofitService) -> None:
        self.core = core
        self.exchange_writes = exchange_writes
        self.lifecycle = lifecycle
        self.retrofits = retrofits

    def sampling_round(self, reference: str) -> SamplingRound:
        s: SamplingRound = self.core.load(SamplingRound, SamplingRound.create_id(reference),
                                          f"sampling round {reference}")
        return s

    def sampling_rounds(self) -> list[SamplingRound]:
        return [self.sampling_round(r) for r in self.core.catalogue().listed(SECTION)]

    def sampling_population(self, period: int, rules_version: str) -> list[dict[str, Any]]:
        """The population a round for ``period`` would fix now."""
        catalogue = self.core.catalogue()
        retrofits = [self.core.retrofit(ref) for ref in catalogue.listed("retrofits")]
        owners = {r.enterprise for r in retrofits if r.period == period}
        sectors = {code: self.core.enterprise(code).sector for code in owners}
        return population(candidates(retrofits, sectors, period), sampling_rules(rules_version))

    @command
    def open_sampling_round(self, *, reference: str, period: int, actor: str, at: str,
                            rules_version: str = CURRENT_SAMPLING_RULES) -> SamplingRound:
        """Fix the population of ``period`` (the retrofits issued in it and their agencies);
        one round per period."""
        rules = sampling_rules(rules_version)
        if not isinstance(period, int) or isinstance(period, bool):
            raise InvalidInput(f"period must be a year, got {period!r}")
        if self.core.exists(SamplingPeriod.create_id(period)):
            claimed: SamplingPeriod = self.core.repository.get(SamplingPeriod.create_id(period))
            raise AlreadyExists(f"period {period} already has its sampling round "
                                f"{claimed.round}: a period is sampled once")
        members = self.sampling_population(period, rules.version)
        round_ = SamplingRound.open(reference=reference, period=period, members=members,
                                    rules=rules, actor=actor, at=at)
        self.core.create(SECTION, reference, round_, SamplingPeriod(period=period, round=reference))
        return round_

    @command
    def draw_sampling_round(self, *, reference: str, ledger: Ledger, actor: str,
                            at: str) -> SamplingRound:
        """Draw the sample from the seed the ledger fixed after the opening. The ledger must
        hold the opening's leaf under a signed checkpoint (the caller catches it up first)."""
        round_ = self.sampling_round(reference)
        if round_.state != "open":
            raise InvalidState(f"sampling round {reference} is already drawn")
        index = opening_leaf_index(ledger, str(round_.id))
        note = ledger.latest_checkpoint()
        if note is None or read_checkpoint_unverified(note).size <= index:
            raise InvalidState("no signed checkpoint covers the round's opening yet")
        round_.draw(seed_index=index, seed_root=ledger.root(index + 1), checkpoint=note,
                    actor=actor, at=at)
        self.core.save(round_)
        return round_

    def check_sampling_outcome(self, *, reference: str, retrofit: str, result: str,
                               findings: str, report_sha256: str, actor: str,
                               measured: dict[str, int] | None = None,
                               agencies_at_fault: list[str] | None = None) -> None:
        """Refuse now what `record_sampling_outcome` would refuse (a failing outcome is
        proposed, and checked before it waits for a second administrator)."""
        self.sampling_round(reference).check_outcome(
            retrofit=retrofit, result=result, findings=findings, report_sha256=report_sha256,
            measured=measured, agencies_at_fault=agencies_at_fault, actor=actor)

    @command
    def record_sampling_outcome(
        self, *, reference: str, retrofit: str, result: str, findings: str,
        report_sha256: str, actor: str, at: str, measured: dict[str, int] | None = None,
        agencies_at_fault: list[str] | None = None,
    ) -> dict[str, Any]:
        """One sampled retrofit's outcome. A failure revokes the retrofit under the clawback
        policy and restricts the enterprise and the agencies at fault, in the same save; a
        retrofit revoked meanwhile keeps its revocation and still gets the credit records.
        A failure is four eyes: it runs through an approved proposal (`registry.proposals`,
        ``record_sampling_outcome``), a pass directly."""
        def run(w: Any) -> dict[str, Any]:
            round_ = self.sampling_round(reference)  # afresh on every attempt
            outcome = round_.record_outcome(
                retrofit=retrofit, result=result, findings=findings,
                report_sha256=report_sha256, measured=measured,
                agencies_at_fault=agencies_at_fault, actor=actor, at=at)
            changes = Changes()
            changes.add(round_)
            revoked: dict[str, Any] = {}
            if result == FAIL:
                ref = round_.spot_check_reference(retrofit)
                reason = f"sampling round {reference}: {findings}"
                agencies = tuple(outcome["agencies_at_fault"])
                if self.core.retrofit(retrofit).state != REVOKED:
                    # the revocation's own changes, what stood on the units ended with it
                    revoked = self.retrofits.revocation_into(
                        w, changes, reference=retrofit, reason=reason, spot_check=ref, at=at,
                        restrict_enterprise=True, restrict_agencies=agencies, actor=actor)
                else:
                    enterprise = self.exchange_writes.trader_in(w, outcome["enterprise"])
                    enterprise.restrict(reason=f"retrofit {retrofit} failed spot check: "
                                        f"{reason}", reference=ref, at=at)
                    changes.add(enterprise)
                    self.lifecycle.settle_party(w, enterprise.credit_code, changes, reason=reason,
                                                by=actor, at=at)
                    for code in agencies:
                        a = self.core.agency(code)
                        a.restrict(reason=f"retrofit {retrofit} failed spot check: {reason}",
                                   reference=ref, at=at)
                        changes.add(a)
            self.lifecycle.save_changes(w, changes, ref=f"sampling:{reference}:{retrofit}", at=at)
            return {**outcome, "revoked": revoked}

        done: dict[str, Any] = self.exchange_writes.with_writer(
            f"outcome of {retrofit} in {reference}", run)
        return done


def sample_view(round_: SamplingRound) -> dict[str, Any]:
    """A round as plain data (API, CLI)."""
    return {
        "reference": round_.reference, "period": round_.period, "state": round_.state,
        "rules_version": round_.rules_version, "sample_size": round_.sample_size,
        "population": round_.population, "agencies": round_.agencies,
        "opened": round_.opened, "seed": round_.seed, "sample": round_.sample,
        "outcomes": [round_.outcomes[m["retrofit"]] for m in round_.sample
                     if m["retrofit"] in round_.outcomes],
    }


def check_known(round_: SamplingRound, retrofit: str) -> None:
    if retrofit not in {m["retrofit"] for m in round_.population}:
        raise NotFound(f"retrofit {retrofit} is not in round {round_.reference}")

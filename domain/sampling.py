"""Spot checks nobody can cherry-pick (§20): sampling rounds of issued retrofits.

An administrator opens a round for a period (the retrofits' compliance year). The population —
every retrofit of that period that is issued (not revoked) when the round opens, with the
enterprise and agencies behind it — is computed by the registry and fixed in the round's
``Opened`` event. The sample is then drawn from a seed the ledger fixes *after* that event:
the RFC 9162 root of the ledger's tree at the size that first includes the ``Opened`` leaf
(``seed_size`` = that leaf's index + 1). Nobody chooses the seed: it is the hash of every
event up to and including the opening itself, which records the population; and there is one
round per period, so a round cannot be re-opened until its sample suits someone.

The algorithm (``draw``), re-run offline by ``registry audit sample``:

1. ``k = min(N, max(minimum, ceil(N × sample_permille / 1000)))`` for a population of N
   (integers only);
2. each retrofit's rank is ``SHA-256(seed ‖ UTF-8 reference)`` (seed = the 32 root bytes);
3. the sample is the k retrofits of the lowest ranks (hex digests compared as strings), in
   rank order; its agencies are those behind the sampled retrofits.

Differentiated audits (§14) are rule data: ``SamplingRules.audit_depth`` says per enterprise
sector whether a sampled retrofit gets a ``full`` re-audit (on-site measurement of every kind:
the outcome must give the measured post-retrofit amounts) or a ``simplified`` one (a document
review). Outcomes are events: ``pass``, or ``fail`` (the registry then revokes the retrofit
under the clawback policy and writes the credit records in the same save).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.errors import InvalidInput, InvalidState, NotFound, UnknownReference
from domain.quantities import check_amounts, check_sha256
from domain.topics import aggregate_topic, event_topic, natural_id

FULL = "full"
SIMPLIFIED = "simplified"
PASS = "pass"  # noqa: S105 - an outcome, not a password
FAIL = "fail"

OPEN = "open"  # population fixed, waiting for the ledger's seed
DRAWN = "drawn"  # sample drawn, outcomes being recorded
CLOSED = "closed"  # every sampled retrofit has its outcome


@dataclass(frozen=True)
class SamplingRules:
    """How large the sample is and how deep each sampled retrofit is re-audited."""

    version: str
    sample_permille: int  # share of the population drawn, in thousandths
    minimum: int  # never fewer (unless the population is smaller)
    #: sector -> "full" | "simplified"; sectors not named get ``default_depth``
    audit_depth: tuple[tuple[str, str], ...]
    default_depth: str

    def depth(self, sector: str) -> str:
        return dict(self.audit_depth).get(sector, self.default_depth)

    def sample_size(self, population: int) -> int:
        wanted = -(-population * self.sample_permille // 1000)  # ceiling, in integers
        return min(population, max(self.minimum, wanted))


#: Heavy-process key sectors of the plan get a full re-audit; assembly industries with simple
#: processes (electronics, appliances, automobiles) a simplified one (§14).
SAMPLING_RULESETS: dict[str, SamplingRules] = {
    "GD-SC-2025.1": SamplingRules(
        version="GD-SC-2025.1", sample_permille=200, minimum=1,
        audit_depth=(("THERMAL_POWER", FULL), ("PETROCHEMICAL", FULL), ("IRON_STEEL", FULL),
                     ("NONFERROUS", FULL), ("BUILDING_MATERIALS", FULL), ("PAPER", FULL),
                     ("TEXTILE_DYEING", FULL), ("ELECTRONICS", SIMPLIFIED),
                     ("APPLIANCES", SIMPLIFIED), ("AUTOMOBILES", SIMPLIFIED)),
        default_depth=FULL,
    ),
}
CURRENT_SAMPLING_RULES = "GD-SC-2025.1"


def sampling_rules(version: str) -> SamplingRules:
    try:
        return SAMPLING_RULESETS[version]
    except KeyError:
        raise UnknownReference(f"unknown sampling rules version {version!r}") from None


@dataclass(frozen=True)
class Candidate:
    """What the population needs to know of one issued retrofit."""

    retrofit: str  # reference
    enterprise: str
    sector: str
    kinds: tuple[str, ...]
    agencies: tuple[str, ...]  # every agency that audited or verified it, sorted


def population(candidates: Iterable[Candidate], rules: SamplingRules) -> list[dict[str, Any]]:
    """The population as stored in ``Opened``: one entry per retrofit, by reference, each with
    its audit depth under ``rules``."""
    out: list[dict[str, Any]] = [
        {"retrofit": c.retrofit, "enterprise": c.enterprise, "sector": c.sector,
         "kinds": list(c.kinds), "agencies": list(c.agencies), "audit": rules.depth(c.sector)}
        for c in candidates]
    out.sort(key=lambda m: m["retrofit"])
    refs = [m["retrofit"] for m in out]
    if len(set(refs)) != len(refs):
        raise InvalidInput("a retrofit appears twice in the population")
    return out


def rank(seed: bytes, reference: str) -> str:
    """A retrofit's rank: the hex SHA-256 of the seed bytes followed by its UTF-8 reference."""
    return hashlib.sha256(seed + reference.encode("utf-8")).hexdigest()


def draw(members: list[dict[str, Any]], seed: bytes, k: int) -> list[dict[str, Any]]:
    """The k members of the lowest rank, in rank order, each with its rank."""
    if len(seed) != 32:
        raise InvalidInput("the seed is a 32-byte tree root")
    ranked = sorted(({"rank": rank(seed, m["retrofit"]), **m} for m in members),
                    key=lambda m: m["rank"])
    return ranked[:k]


def sampled_agencies(sample: list[dict[str, Any]]) -> list[str]:
    return sorted({a for m in sample for a in m["agencies"]})


class SamplingRound(Aggregate):
    """One spot-check round for a period: population, seed, sample and outcomes, as events."""

    TOPIC = aggregate_topic("SamplingRound")

    class Created(Aggregate.Created):
        TOPIC = event_topic("SamplingRound", "Created")

    @staticmethod
    def create_id(reference: str, **_: Any) -> UUID:
        return natural_id(f"/sampling-rounds/{reference}")

    @classmethod
    def open(cls, *, reference: str, period: int, members: list[dict[str, Any]],
             rules: SamplingRules, actor: str, at: str) -> SamplingRound:
        if not isinstance(reference, str) or not reference.strip() or "/" in reference:
            raise InvalidInput("a sampling round reference is a non-empty name without '/'")
        if not isinstance(period, int) or isinstance(period, bool) or not 2000 <= period <= 2100:
            raise InvalidInput(f"period must be a year, got {period!r}")
        if not actor.strip():
            raise InvalidInput("opening a sampling round needs the administrator's id")
        if not members:
            raise InvalidState(f"no retrofit of period {period} is issued: nothing to sample")
        return cls(reference=reference, period=period, population=members,
                   agencies=sampled_agencies(members), rules_version=rules.version,
                   sample_size=rules.sample_size(len(members)), actor=actor, at=at)

    @event("Opened", topic=event_topic("SamplingRound", "Opened"))
    def __init__(self, reference: str, period: int, population: list[dict[str, Any]],
                 agencies: list[str], rules_version: str, sample_size: int, actor: str,
                 at: str) -> None:
        self.reference = reference
        self.period = period
        self.population = population
        self.agencies = agencies
        self.rules_version = rules_version
        self.sample_size = sample_size
        self.opened = {"actor": actor, "at": at}
        self.state = OPEN
        self.seed: dict[str, Any] | None = None
        self.sample: list[dict[str, Any]] = []
        self.outcomes: dict[str, dict[str, Any]] = {}

    # -- the draw ------------------------------------------------------------------------------

    def draw(self, *, seed_index: int, seed_root: bytes, checkpoint: str, actor: str,
             at: str) -> list[dict[str, Any]]:
        """Draw the sample from the ledger's root at ``seed_index + 1`` leaves, where
        ``seed_index`` is the ledger index of this round's ``Opened`` leaf (the caller reads
        both from the ledger; an auditor re-checks them from an export)."""
        if self.state != OPEN:
            raise InvalidState(f"sampling round {self.reference} is already drawn")
        if not isinstance(seed_index, int) or seed_index < 0:
            raise InvalidInput("the seed index is the ledger index of the round's opening")
        sample = draw(self.population, seed_root, self.sample_size)
        self._drawn(seed={"index": seed_index, "size": seed_index + 1,
                          "root": seed_root.hex(), "checkpoint": checkpoint},
                    sample=sample, actor=actor, at=at)
        return sample

    @event("Drawn", topic=event_topic("SamplingRound", "Drawn"))
    def _drawn(self, seed: dict[str, Any], sample: list[dict[str, Any]], actor: str,
               at: str) -> None:
        self.seed = seed
        self.sample = sample
        self.state = DRAWN

    # -- outcomes ------------------------------------------------------------------------------

    def sampled(self, retrofit: str) -> dict[str, Any]:
        for m in self.sample:
            if m["retrofit"] == retrofit:
                return m
        raise NotFound(f"retrofit {retrofit} is not in the sample of round {self.reference}")

    def record_outcome(self, *, retrofit: str, result: str, findings: str,
                       report_sha256: str, measured: Mapping[str, int] | None,
                       agencies_at_fault: list[str] | None, actor: str,
                       at: str) -> dict[str, Any]:
        """One sampled retrofit's outcome. A full audit gives the measured post-retrofit
        amount of every kind; a simplified one must not. A failure names the agencies at
        fault (default: every agency behind the retrofit)."""
        outcome = self.check_outcome(retrofit=retrofit, result=result, findings=findings,
                                     report_sha256=report_sha256, measured=measured,
                                     agencies_at_fault=agencies_at_fault, actor=actor)
        self._outcome_recorded(outcome=outcome, actor=actor, at=at)
        return outcome

    def check_outcome(self, *, retrofit: str, result: str, findings: str,
                      report_sha256: str, measured: Mapping[str, int] | None,
                      agencies_at_fault: list[str] | None, actor: str) -> dict[str, Any]:
        """The outcome `record_outcome` would record, or its refusal; nothing changes (a
        failing outcome is checked so when it is proposed)."""
        if self.state == OPEN:
            raise InvalidState(f"sampling round {self.reference} has no sample yet")
        member = self.sampled(retrofit)
        if retrofit in self.outcomes:
            raise InvalidState(f"retrofit {retrofit} already has its outcome in round "
                               f"{self.reference}")
        if result not in (PASS, FAIL):
            raise InvalidInput(f"an outcome is 'pass' or 'fail', got {result!r}")
        if not actor.strip():
            raise InvalidInput("an outcome needs the administrator's id")
        check_sha256(report_sha256)
        if result == FAIL and not findings.strip():
            raise InvalidInput("a failed spot check states its findings")
        measured_amounts: dict[str, int] | None = None
        if member["audit"] == FULL:
            if measured is None:
                raise InvalidInput(f"retrofit {retrofit} gets a full audit: give the measured "
                                   "post-retrofit amount of every kind")
            measured_amounts = check_amounts(measured, member["kinds"], "measured")
        elif measured is not None:
            raise InvalidInput(f"retrofit {retrofit} gets a simplified audit (document "
                               "review): it has no measurements")
        at_fault: list[str] = []
        if result == FAIL:
            at_fault = sorted(set(agencies_at_fault if agencies_at_fault is not None
                                  else member["agencies"]))
            unknown = set(at_fault) - set(member["agencies"])
            if unknown:
                raise InvalidInput(f"agencies {sorted(unknown)} did not audit or verify "
                                   f"retrofit {retrofit}")
        elif agencies_at_fault:
            raise InvalidInput("a passed spot check finds no agency at fault")
        outcome = {"retrofit": retrofit, "result": result, "audit": member["audit"],
                   "findings": findings, "report_sha256": report_sha256,
                   "measured": measured_amounts, "agencies_at_fault": at_fault,
                   "enterprise": member["enterprise"]}
        return outcome

    @event("OutcomeRecorded", topic=event_topic("SamplingRound", "OutcomeRecorded"))
    def _outcome_recorded(self, outcome: dict[str, Any], actor: str, at: str) -> None:
        self.outcomes[outcome["retrofit"]] = {**outcome, "actor": actor, "at": at}
        if len(self.outcomes) == len(self.sample):
            self.state = CLOSED

    def spot_check_reference(self, retrofit: str) -> str:
        return f"{self.reference}/{retrofit}"


class SamplingPeriod(Aggregate):
    """The one-round-per-period index: created in the same save as the round, so a second
    round for a period conflicts (nobody re-opens a period until the sample suits them)."""

    TOPIC = aggregate_topic("SamplingPeriod")

    class Created(Aggregate.Created):
        TOPIC = event_topic("SamplingPeriod", "Created")

    @staticmethod
    def create_id(period: int, **_: Any) -> UUID:
        return natural_id(f"/sampling-periods/{period}")

    @event("Claimed", topic=event_topic("SamplingPeriod", "Claimed"))
    def __init__(self, period: int, round: str) -> None:
        self.period = period
        self.round = round


def candidates(retrofits: Iterable[Any], sectors: Mapping[str, str],
               period: int) -> list[Candidate]:
    """The population's retrofits: every retrofit of ``period`` that is issued (revoked ones
    and those not yet issued are out), with its enterprise's sector (``sectors`` by credit
    code) and the agencies behind it."""
    from domain.retrofit import ISSUED

    return [Candidate(retrofit=r.reference, enterprise=r.enterprise,
                      sector=sectors[r.enterprise], kinds=tuple(r.kinds),
                      agencies=tuple(sorted(set(r.agencies().values()))))
            for r in retrofits if r.period == period and r.state == ISSUED]

"""The cleaner-production retrofit lifecycle.

registered → baseline audit → post-retrofit audit → verification by a *different* accredited
agency → administrator confirmation (确权) → issuance; revocation after a failed spot check.
Evidence is referenced by SHA-256, so every issued unit traces back to its reports and agencies.

Surplus per kind = verified stable reduction − the enterprise's remaining obligation for that kind
and period; nothing is surplus while the obligation is unmet.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.agency import Agency
from domain.errors import AgencyNotEligible, InvalidInput, InvalidState, NoSurplus
from domain.quantities import check_amounts, check_sha256
from domain.reference import kind_info
from domain.topics import aggregate_topic, event_topic, natural_id

REGISTERED = "registered"
BASELINE_AUDITED = "baseline_audited"
POST_AUDITED = "post_audited"
VERIFIED = "verified"
CONFIRMED = "confirmed"
ISSUED = "issued"
REVOKED = "revoked"

AUDIT = "audit"
VERIFICATION = "verification"
STAGES = (AUDIT, VERIFICATION)


class Retrofit(Aggregate):
    TOPIC = aggregate_topic("Retrofit")

    class Created(Aggregate.Created):
        TOPIC = event_topic("Retrofit", "Created")

    @staticmethod
    def create_id(reference: str, **_: Any) -> UUID:
        return natural_id(f"/retrofits/{reference}")

    @classmethod
    def register(
        cls, *, reference: str, enterprise: str, period: int, kinds: list[str],
        description: str, at: str,
    ) -> Retrofit:
        if not reference.strip() or "/" in reference:
            raise InvalidInput("a retrofit reference is a non-empty project number without '/'")
        if not kinds or len(set(kinds)) != len(kinds):
            raise InvalidInput("a retrofit names each indicator kind it reduces once")
        for k in kinds:
            kind_info(k)
        if not isinstance(period, int) or not 2000 <= period <= 2100:
            raise InvalidInput(f"period must be a year, got {period!r}")
        return cls(
            reference=reference, enterprise=enterprise, period=period, kinds=sorted(kinds),
            description=description, at=at,
        )

    @event("Registered", topic=event_topic("Retrofit", "Registered"))
    def __init__(
        self, reference: str, enterprise: str, period: int, kinds: list[str], description: str,
        at: str,
    ) -> None:
        self.reference = reference
        self.enterprise = enterprise
        self.period = period
        self.kinds = kinds
        self.description = description
        self.state = REGISTERED
        self.baseline: dict[str, Any] | None = None
        self.post: dict[str, Any] | None = None
        self.verification: dict[str, Any] | None = None
        self.confirmation: dict[str, Any] | None = None
        self.lots: dict[str, dict[str, Any]] = {}
        self.revocation: dict[str, Any] | None = None
        #: stage ("audit", "verification") -> the agency the enterprise engaged for it
        self.engagements: dict[str, str] = {}

    def _check_state(self, *expected: str) -> None:
        if self.state not in expected:
            raise InvalidState(
                f"retrofit {self.reference} is {self.state}; this needs {' or '.join(expected)}"
            )

    # -- engagements ---------------------------------------------------------------------------

    def engage(self, *, stage: str, agency: Agency, by: str, at: str) -> None:
        """The enterprise engages an agency for the audits or the verification; only that
        agency files the stage. The agency is independent of the enterprise (not its own
        credit code, nor controlled by it as registered), and the verifier of the auditor."""
        if stage not in STAGES:
            raise InvalidInput(f"an engagement is for {' or '.join(STAGES)}, not {stage!r}")
        open_in = (REGISTERED, BASELINE_AUDITED) if stage == AUDIT else (
            REGISTERED, BASELINE_AUDITED, POST_AUDITED)
        self._check_state(*open_in)
        agency.check_may_audit()
        self.check_independent(agency)
        other = self.engagements.get(VERIFICATION if stage == AUDIT else AUDIT)
        if agency.credit_code == other or (
                stage == VERIFICATION and agency.credit_code in self.audit_agencies()):
            raise AgencyNotEligible(f"agency {agency.credit_code} may not both audit and "
                                    f"verify retrofit {self.reference}")
        self._engaged(stage=stage, agency=agency.credit_code, by=by, at=at)

    @event("Engaged", topic=event_topic("Retrofit", "Engaged"))
    def _engaged(self, stage: str, agency: str, by: str, at: str) -> None:
        self.engagements = {**self.engagements, stage: agency}

    def check_independent(self, agency: Agency) -> None:
        if agency.credit_code == self.enterprise or \
                getattr(agency, "controlled_by", None) == self.enterprise:
            raise AgencyNotEligible(f"agency {agency.credit_code} is the enterprise's own or "
                                    f"controlled by it, so it may not audit or verify "
                                    f"retrofit {self.reference}")

    def check_engaged(self, stage: str, agency: Agency) -> None:
        if self.engagements.get(stage) != agency.credit_code:
            raise AgencyNotEligible(f"agency {agency.credit_code} is not engaged for the "
                                    f"{stage} of retrofit {self.reference}")
        self.check_independent(agency)

    def _check_new_evidence(self, digest: str) -> None:
        """Each stage's report is its own: one digest is never the evidence of two stages."""
        if digest in self.evidence():
            raise InvalidInput("this report's SHA-256 is already the evidence of another "
                               "stage; each stage files its own report")

    def check_agencies_in_good_standing(self, agencies: list[Agency]) -> None:
        """Confirmation and issuance rest on the agencies' work: none may be barred now."""
        for a in agencies:
            if a.standing != "good":
                raise AgencyNotEligible(f"agency {a.credit_code}, whose work retrofit "
                                        f"{self.reference} rests on, is barred by its credit "
                                        "record")

    # -- audits and verification ---------------------------------------------------------------

    def record_baseline_audit(
        self, *, agency: Agency, report_sha256: str, amounts: dict[str, int], at: str
    ) -> None:
        self._check_state(REGISTERED)
        agency.check_may_audit()
        self.check_engaged(AUDIT, agency)
        self._check_new_evidence(check_sha256(report_sha256))
        self._baseline_audited(
            agency=agency.credit_code, report_sha256=check_sha256(report_sha256),
            amounts=check_amounts(amounts, self.kinds, "baseline"), at=at,
        )

    @event("BaselineAudited", topic=event_topic("Retrofit", "BaselineAudited"))
    def _baseline_audited(
        self, agency: str, report_sha256: str, amounts: dict[str, int], at: str
    ) -> None:
        self.baseline = {"agency": agency, "report_sha256": report_sha256, "amounts": amounts,
                         "at": at}
        self.state = BASELINE_AUDITED

    def record_post_audit(
        self, *, agency: Agency, report_sha256: str, amounts: dict[str, int], at: str
    ) -> None:
        self._check_state(BASELINE_AUDITED)
        agency.check_may_audit()
        self.check_engaged(AUDIT, agency)
        self._check_new_evidence(check_sha256(report_sha256))
        amounts = check_amounts(amounts, self.kinds, "post-retrofit")
        base = self.baseline_amounts()
        for k, v in amounts.items():
            if v > base[k]:
                raise InvalidInput(f"post-retrofit {k} {v} exceeds the baseline {base[k]}")
        if all(v == base[k] for k, v in amounts.items()):
            raise InvalidInput("the post-retrofit audit shows no reduction")
        self._post_audited(
            agency=agency.credit_code, report_sha256=check_sha256(report_sha256),
            amounts=amounts, at=at,
        )

    @event("PostAudited", topic=event_topic("Retrofit", "PostAudited"))
    def _post_audited(
        self, agency: str, report_sha256: str, amounts: dict[str, int], at: str
    ) -> None:
        self.post = {"agency": agency, "report_sha256": report_sha256, "amounts": amounts,
                     "at": at}
        self.state = POST_AUDITED

    def baseline_amounts(self) -> dict[str, int]:
        return dict(self.baseline["amounts"]) if self.baseline else {}

    def audited_reductions(self) -> dict[str, int]:
        if not self.baseline or not self.post:
            return {}
        return {k: self.baseline["amounts"][k] - self.post["amounts"][k] for k in self.kinds}

    def audit_agencies(self) -> set[str]:
        return {a["agency"] for a in (self.baseline, self.post) if a}

    def verify(
        self, *, agency: Agency, report_sha256: str, reductions: dict[str, int], at: str
    ) -> None:
        """Verification by an accredited agency that did not audit this retrofit."""
        self._check_state(POST_AUDITED)
        agency.check_may_verify()
        if agency.credit_code in self.audit_agencies():
            raise AgencyNotEligible(
                f"agency {agency.credit_code} audited retrofit {self.reference} and may not "
                "verify it"
            )
        self.check_engaged(VERIFICATION, agency)
        self._check_new_evidence(check_sha256(report_sha256))
        reductions = check_amounts(reductions, self.kinds, "verified reduction")
        audited = self.audited_reductions()
        for k, v in reductions.items():
            if v > audited[k]:
                raise InvalidInput(
                    f"verified {k} reduction {v} exceeds the audited reduction {audited[k]}"
                )
        self._verified(
            agency=agency.credit_code, report_sha256=check_sha256(report_sha256),
            reductions=reductions, at=at,
        )

    @event("Verified", topic=event_topic("Retrofit", "Verified"))
    def _verified(
        self, agency: str, report_sha256: str, reductions: dict[str, int], at: str
    ) -> None:
        self.verification = {"agency": agency, "report_sha256": report_sha256,
                             "reductions": reductions, "at": at}
        self.state = VERIFIED

    # -- confirmation and issuance -------------------------------------------------------------

    def check_confirmable(self) -> None:
        """Verified, and so open to confirmation (a proposal is refused otherwise)."""
        self._check_state(VERIFIED)

    def confirm(
        self, *, administrator: str, remaining_obligations: dict[str, int], at: str
    ) -> None:
        """确权: the verified reduction first meets the enterprise's remaining obligation; only
        what is left over is surplus."""
        self._check_state(VERIFIED)
        if not administrator.strip():
            raise InvalidInput("confirmation needs the administrator's id")
        if self.verification is None:
            raise InvalidState(f"retrofit {self.reference} has no verification")
        surplus: dict[str, int] = {}
        applied: dict[str, int] = {}
        for k in self.kinds:
            reduction = self.verification["reductions"][k]
            remaining = max(0, remaining_obligations.get(k, 0))
            applied[k] = min(reduction, remaining)
            surplus[k] = reduction - applied[k]
        self._confirmed(administrator=administrator, surplus=surplus,
                        obligation_applied=applied, at=at)

    @event("Confirmed", topic=event_topic("Retrofit", "Confirmed"))
    def _confirmed(
        self, administrator: str, surplus: dict[str, int], obligation_applied: dict[str, int],
        at: str,
    ) -> None:
        self.confirmation = {"administrator": administrator, "surplus": surplus,
                             "obligation_applied": obligation_applied, "at": at}
        self.state = CONFIRMED

    def surplus(self) -> dict[str, int]:
        return dict(self.confirmation["surplus"]) if self.confirmation else {}

    def check_issuable(self) -> dict[str, int]:
        self._check_state(CONFIRMED)
        positive = {k: v for k, v in self.surplus().items() if v > 0}
        if not positive:
            raise NoSurplus(
                f"retrofit {self.reference}: the verified reduction does not exceed the "
                "remaining obligation, so there is no surplus to issue"
            )
        return positive

    def evidence(self) -> list[str]:
        return [a["report_sha256"] for a in (self.baseline, self.post, self.verification) if a]

    def agencies(self) -> dict[str, str]:
        out = {}
        if self.baseline:
            out["baseline_audit"] = self.baseline["agency"]
        if self.post:
            out["post_audit"] = self.post["agency"]
        if self.verification:
            out["verification"] = self.verification["agency"]
        return out

    @event("Issued", topic=event_topic("Retrofit", "Issued"))
    def mark_issued(self, lots: dict[str, dict[str, Any]], administrator: str, at: str) -> None:
        self.lots = lots
        self.state = ISSUED

    # -- revocation ----------------------------------------------------------------------------

    def revoke(self, *, reason: str, spot_check: str, at: str) -> None:
        if self.state == REVOKED:
            raise InvalidState(f"retrofit {self.reference} is already revoked")
        if self.state not in (VERIFIED, CONFIRMED, ISSUED):
            raise InvalidState(f"retrofit {self.reference} is {self.state}: nothing to revoke yet")
        if not reason.strip() or not spot_check.strip():
            raise InvalidInput("a revocation needs a reason and the spot check's reference")
        self._revoked(reason=reason, spot_check=spot_check, at=at)

    @event("Revoked", topic=event_topic("Retrofit", "Revoked"))
    def _revoked(self, reason: str, spot_check: str, at: str) -> None:
        self.revocation = {"reason": reason, "spot_check": spot_check, "at": at,
                           "state_before": self.state}
        self.state = REVOKED

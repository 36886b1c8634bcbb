"""The retrofit lifecycle, on the aggregate alone."""

from __future__ import annotations

import pytest

from domain.agency import Agency
from domain.errors import AgencyNotEligible, InvalidInput, InvalidState, NoSurplus
from domain.retrofit import CONFIRMED, REVOKED, VERIFIED, Retrofit
from tests.support.world import AT, code, sha

H = sha("report")  # the baseline audit's report
HP = sha("post-report")
HV = sha("verification-report")


def agency(n: int, accredited: bool = True) -> Agency:
    a = Agency.register(credit_code=code(n, "91440101MA9X"), name=f"Agency {n}", at=AT)
    if accredited:
        a.accredit(accreditation=f"ACC-{n}", at=AT)
    return a


def audited(baseline: int = 100_000, post: int = 40_000) -> tuple[Retrofit, Agency]:
    r = Retrofit.register(reference="RF-1", enterprise=code(1), period=2025, kinds=["COD"],
                          description="MBR", at=AT)
    auditor = agency(1)
    r.engage(stage="audit", agency=auditor, by="u-rep", at=AT)
    r.engage(stage="verification", agency=agency(2), by="u-rep", at=AT)
    r.record_baseline_audit(agency=auditor, report_sha256=H, amounts={"COD": baseline}, at=AT)
    r.record_post_audit(agency=auditor, report_sha256=HP, amounts={"COD": post}, at=AT)
    return r, auditor


def test_surplus_is_verified_reduction_beyond_remaining_obligation() -> None:
    r, _ = audited()
    r.verify(agency=agency(2), report_sha256=HV, reductions={"COD": 55_000}, at=AT)
    r.confirm(administrator="admin", remaining_obligations={"COD": 10_000}, at=AT)
    assert r.state == CONFIRMED
    assert r.surplus() == {"COD": 45_000}
    assert r.confirmation is not None
    assert r.confirmation["obligation_applied"] == {"COD": 10_000}


def test_no_surplus_while_obligation_unmet() -> None:
    r, _ = audited()
    r.verify(agency=agency(2), report_sha256=HV, reductions={"COD": 60_000}, at=AT)
    r.confirm(administrator="admin", remaining_obligations={"COD": 80_000}, at=AT)
    assert r.surplus() == {"COD": 0}
    with pytest.raises(NoSurplus):
        r.check_issuable()


def test_auditing_agency_may_not_verify_its_own_audit() -> None:
    r, auditor = audited()
    with pytest.raises(AgencyNotEligible):
        r.verify(agency=auditor, report_sha256=HV, reductions={"COD": 1}, at=AT)
    assert r.state != VERIFIED


def test_unaccredited_agency_may_not_verify() -> None:
    r, _ = audited()
    with pytest.raises(AgencyNotEligible):
        r.verify(agency=agency(3, accredited=False), report_sha256=H,
                 reductions={"COD": 1}, at=AT)


def test_restricted_agency_may_not_verify() -> None:
    r, _ = audited()
    barred = agency(3)
    barred.restrict(reason="falsified report", reference="SC-1", at=AT)
    with pytest.raises(AgencyNotEligible):
        r.verify(agency=barred, report_sha256=HV, reductions={"COD": 1}, at=AT)


def test_verified_reduction_cannot_exceed_audited_reduction() -> None:
    r, _ = audited()
    with pytest.raises(InvalidInput):
        r.verify(agency=agency(2), report_sha256=HV, reductions={"COD": 60_001}, at=AT)


def test_evidence_must_be_a_sha256_digest() -> None:
    r = Retrofit.register(reference="RF-2", enterprise=code(1), period=2025, kinds=["NOX"],
                          description="SCR", at=AT)
    r.engage(stage="audit", agency=agency(1), by="u-rep", at=AT)
    with pytest.raises(InvalidInput):
        r.record_baseline_audit(agency=agency(1), report_sha256="not-a-hash",
                                amounts={"NOX": 5}, at=AT)


def test_amounts_must_be_integers_never_floats() -> None:
    r = Retrofit.register(reference="RF-3", enterprise=code(1), period=2025, kinds=["NOX"],
                          description="SCR", at=AT)
    r.engage(stage="audit", agency=agency(1), by="u-rep", at=AT)
    with pytest.raises(InvalidInput):
        r.record_baseline_audit(agency=agency(1), report_sha256=H, amounts={"NOX": 5.5},  # type: ignore[dict-item]
                                at=AT)


def test_steps_out_of_order_are_refused() -> None:
    r = Retrofit.register(reference="RF-4", enterprise=code(1), period=2025, kinds=["COD"],
                          description="x", at=AT)
    with pytest.raises(InvalidState):
        r.verify(agency=agency(2), report_sha256=HV, reductions={"COD": 1}, at=AT)
    with pytest.raises(InvalidState):
        r.confirm(administrator="a", remaining_obligations={}, at=AT)


def test_revocation_records_reason_and_spot_check() -> None:
    r, _ = audited()
    r.verify(agency=agency(2), report_sha256=HV, reductions={"COD": 55_000}, at=AT)
    r.revoke(reason="meter tampering", spot_check="SC-7", at=AT)
    assert r.state == REVOKED
    assert r.revocation == {"reason": "meter tampering", "spot_check": "SC-7", "at": AT,
                            "state_before": VERIFIED}
    with pytest.raises(InvalidState):
        r.revoke(reason="again", spot_check="SC-8", at=AT)


# -- engagements: the bypasses of issue 12, each a named test -----------------------------


def registered() -> Retrofit:
    return Retrofit.register(reference="RF-E", enterprise=code(1), period=2025, kinds=["COD"],
                             description="MBR", at=AT)


def test_an_agency_nobody_engaged_may_not_audit() -> None:
    r = registered()
    r.engage(stage="audit", agency=agency(1), by="u-rep", at=AT)
    with pytest.raises(AgencyNotEligible, match="not engaged"):
        r.record_baseline_audit(agency=agency(3), report_sha256=H, amounts={"COD": 10}, at=AT)
    assert r.baseline is None


def test_an_agency_under_the_enterprises_own_code_may_not_verify_its_retrofit() -> None:
    r = registered()
    own = Agency.register(credit_code=code(1), name="In-house 'agency'", at=AT)
    own.accredit(accreditation="ACC-SELF", at=AT)
    with pytest.raises(AgencyNotEligible, match="own"):
        r.engage(stage="verification", agency=own, by="u-rep", at=AT)


def test_an_agency_the_enterprise_controls_may_not_audit_or_verify() -> None:
    r = registered()
    controlled = Agency.register(credit_code=code(5, "91440101MA9X"), name="Subsidiary",
                                 at=AT, controlled_by=code(1))
    controlled.accredit(accreditation="ACC-SUB", at=AT)
    for stage in ("audit", "verification"):
        with pytest.raises(AgencyNotEligible, match="controlled"):
            r.engage(stage=stage, agency=controlled, by="u-rep", at=AT)


def test_the_verifier_is_not_the_auditing_agency() -> None:
    r = registered()
    r.engage(stage="audit", agency=agency(1), by="u-rep", at=AT)
    with pytest.raises(AgencyNotEligible):
        r.engage(stage="verification", agency=agency(1), by="u-rep", at=AT)


def test_one_digest_is_never_the_evidence_of_two_stages() -> None:
    r, _ = audited()
    with pytest.raises(InvalidInput, match="another stage"):
        r.verify(agency=agency(2), report_sha256=H, reductions={"COD": 1}, at=AT)
    r2 = registered()
    r2.engage(stage="audit", agency=agency(1), by="u-rep", at=AT)
    r2.record_baseline_audit(agency=agency(1), report_sha256=H, amounts={"COD": 10}, at=AT)
    with pytest.raises(InvalidInput, match="another stage"):
        r2.record_post_audit(agency=agency(1), report_sha256=H, amounts={"COD": 5}, at=AT)


def test_a_barred_agencys_work_is_neither_confirmed_nor_issued() -> None:
    r, auditor = audited()
    r.verify(agency=agency(2), report_sha256=HV, reductions={"COD": 55_000}, at=AT)
    auditor.restrict(reason="fraud", reference="SC-1", at=AT)
    with pytest.raises(AgencyNotEligible, match="barred"):
        r.check_agencies_in_good_standing([auditor, agency(2)])

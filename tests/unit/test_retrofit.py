"""The retrofit lifecycle, on the aggregate alone."""

from __future__ import annotations

import pytest

from domain.agency import Agency
from domain.errors import AgencyNotEligible, InvalidInput, InvalidState, NoSurplus
from domain.retrofit import CONFIRMED, REVOKED, VERIFIED, Retrofit
from tests.world import AT, code, sha

H = sha("report")


def agency(n: int, accredited: bool = True) -> Agency:
    a = Agency.register(credit_code=code(n, "91440101MA9X"), name=f"Agency {n}", at=AT)
    if accredited:
        a.accredit(accreditation=f"ACC-{n}", at=AT)
    return a


def audited(baseline: int = 100_000, post: int = 40_000) -> tuple[Retrofit, Agency]:
    r = Retrofit.register(reference="RF-1", enterprise=code(1), period=2025, kinds=["COD"],
                          description="MBR", at=AT)
    auditor = agency(1)
    r.record_baseline_audit(agency=auditor, report_sha256=H, amounts={"COD": baseline}, at=AT)
    r.record_post_audit(agency=auditor, report_sha256=H, amounts={"COD": post}, at=AT)
    return r, auditor


def test_surplus_is_verified_reduction_beyond_remaining_obligation() -> None:
    r, _ = audited()
    r.verify(agency=agency(2), report_sha256=H, reductions={"COD": 55_000}, at=AT)
    r.confirm(administrator="admin", remaining_obligations={"COD": 10_000}, at=AT)
    assert r.state == CONFIRMED
    assert r.surplus() == {"COD": 45_000}
    assert r.confirmation is not None
    assert r.confirmation["obligation_applied"] == {"COD": 10_000}


def test_no_surplus_while_obligation_unmet() -> None:
    r, _ = audited()
    r.verify(agency=agency(2), report_sha256=H, reductions={"COD": 60_000}, at=AT)
    r.confirm(administrator="admin", remaining_obligations={"COD": 80_000}, at=AT)
    assert r.surplus() == {"COD": 0}
    with pytest.raises(NoSurplus):
        r.check_issuable()


def test_auditing_agency_may_not_verify_its_own_audit() -> None:
    r, auditor = audited()
    with pytest.raises(AgencyNotEligible):
        r.verify(agency=auditor, report_sha256=H, reductions={"COD": 1}, at=AT)
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
        r.verify(agency=barred, report_sha256=H, reductions={"COD": 1}, at=AT)


def test_verified_reduction_cannot_exceed_audited_reduction() -> None:
    r, _ = audited()
    with pytest.raises(InvalidInput):
        r.verify(agency=agency(2), report_sha256=H, reductions={"COD": 60_001}, at=AT)


def test_evidence_must_be_a_sha256_digest() -> None:
    r = Retrofit.register(reference="RF-2", enterprise=code(1), period=2025, kinds=["NOX"],
                          description="SCR", at=AT)
    with pytest.raises(InvalidInput):
        r.record_baseline_audit(agency=agency(1), report_sha256="not-a-hash",
                                amounts={"NOX": 5}, at=AT)


def test_amounts_must_be_integers_never_floats() -> None:
    r = Retrofit.register(reference="RF-3", enterprise=code(1), period=2025, kinds=["NOX"],
                          description="SCR", at=AT)
    with pytest.raises(InvalidInput):
        r.record_baseline_audit(agency=agency(1), report_sha256=H, amounts={"NOX": 5.5},  # type: ignore[dict-item]
                                at=AT)


def test_steps_out_of_order_are_refused() -> None:
    r = Retrofit.register(reference="RF-4", enterprise=code(1), period=2025, kinds=["COD"],
                          description="x", at=AT)
    with pytest.raises(InvalidState):
        r.verify(agency=agency(2), report_sha256=H, reductions={"COD": 1}, at=AT)
    with pytest.raises(InvalidState):
        r.confirm(administrator="a", remaining_obligations={}, at=AT)


def test_revocation_records_reason_and_spot_check() -> None:
    r, _ = audited()
    r.verify(agency=agency(2), report_sha256=H, reductions={"COD": 55_000}, at=AT)
    r.revoke(reason="meter tampering", spot_check="SC-7", at=AT)
    assert r.state == REVOKED
    assert r.revocation == {"reason": "meter tampering", "spot_check": "SC-7", "at": AT,
                            "state_before": VERIFIED}
    with pytest.raises(InvalidState):
        r.revoke(reason="again", spot_check="SC-8", at=AT)

"""Obligations move only by events with a reason, revocation takes back the credit it gave,
and no reduction is claimed twice."""

from __future__ import annotations

import pytest

from domain.errors import InvalidInput, ObligationRefused, OverlappingClaim
from registry.bootstrap import Registry, build_registry
from tests.support.world import AT, World, build_world, engage, issue, sha


@pytest.fixture
def app() -> Registry:
    return build_registry({"REGISTRY_STORE": "memory"})


def task(app: Registry, w: World, target: int, reason: str = "") -> None:
    app.set_obligation(credit_code=w.dyeing, kind="COD", period=2025, target=target, at=AT,
                       reason=reason, actor="admin-o")


def test_revocation_takes_back_the_obligation_credit_it_gave(app: Registry) -> None:
    w = build_world(app)
    task(app, w, 10_000)
    issue(app, w, reference="RF-1", enterprise=w.dyeing, kind="COD", baseline=30_000, post=0)
    assert app.enterprise(w.dyeing).remaining_obligation("COD", 2025) == 0
    app.retrofits.revoke_retrofit(reference="RF-1", reason="fabricated", spot_check="SC-1", at=AT,
                                  restrict_enterprise=False)
    e = app.enterprise(w.dyeing)
    assert e.remaining_obligation("COD", 2025) == 10_000  # the task is open again
    assert e.latest_level("COD") is None  # and the revoked retrofit's level no longer stands


def test_obligation_changes_need_a_reason_and_never_undo_what_is_achieved(
        app: Registry) -> None:
    w = build_world(app)
    task(app, w, 10_000)  # the first setting of a task
    with pytest.raises(InvalidInput):
        task(app, w, 12_000)  # a change without a reason
    task(app, w, 12_000, reason="permit renewed")
    issue(app, w, reference="RF-1", enterprise=w.dyeing, kind="COD", baseline=20_000, post=0)
    with pytest.raises(ObligationRefused):
        task(app, w, 5_000, reason="lower")  # below the 12,000 achieved
    position = app.queries.position()
    task(app, w, 13_000, reason="revised permit")
    [n] = app.recorder.select_notifications(position + 1, 10)
    event = app.mapper.to_domain_event(n)
    assert n.topic == "surplus:Enterprise.ObligationChanged.v1"
    assert (event.previous, event.target, event.reason, event.administrator) == (
        12_000, 13_000, "revised permit", "admin-o")


def test_a_clawback_debt_cannot_be_cleared_by_lowering_the_target(app: Registry) -> None:
    w = build_world(app)
    issue(app, w, reference="RF-1", enterprise=w.dyeing, kind="COD", baseline=5_000, post=0)
    app.holdings.retire(instrument="COD-2025-MAOZHOU", owner=w.dyeing, quantity=2_000,
                        reason="gift", at=AT)
    app.retrofits.revoke_retrofit(reference="RF-1", reason="fraud", spot_check="SC-1", at=AT)
    assert app.enterprise(w.dyeing).remaining_obligation("COD", 2025) == 2_000
    with pytest.raises(ObligationRefused):
        task(app, w, 0, reason="forgive")
    assert app.enterprise(w.dyeing).remaining_obligation("COD", 2025) == 2_000


def test_a_second_retrofit_cannot_claim_the_same_reduction(app: Registry) -> None:
    w = build_world(app)
    issue(app, w, reference="RF-1", enterprise=w.dyeing, kind="COD", baseline=700, post=300)
    app.retrofits.register_retrofit(reference="RF-2", enterprise=w.dyeing, period=2025,
                                    kinds=["COD"], description="again", at=AT)
    with pytest.raises(OverlappingClaim):
        app.retrofits.record_baseline_audit(
            reference="RF-2", agency=w.auditor, report_sha256=sha("RF-2/b"), amounts={"COD": 700},
            at=AT)
    assert app.retrofit("RF-2").state == "registered"
    # from the verified level on, a further reduction is a new claim
    issue(app, w, reference="RF-3", enterprise=w.dyeing, kind="COD", baseline=300, post=100)
    assert app.enterprise(w.dyeing).latest_level("COD") == 100


def test_two_retrofits_in_flight_with_one_baseline_confirm_only_once(app: Registry) -> None:
    w = build_world(app)
    for ref in ("RF-A", "RF-B"):
        app.retrofits.register_retrofit(reference=ref, enterprise=w.dyeing, period=2025,
                                        kinds=["COD"], description="same line", at=AT)
        engage(app, w, ref, AT)
        app.retrofits.record_baseline_audit(reference=ref, agency=w.auditor, report_sha256=sha(ref),
                                            amounts={"COD": 700}, at=AT)
        app.retrofits.record_post_audit(reference=ref, agency=w.auditor,
                                        report_sha256=sha(ref + "p"), amounts={"COD": 300}, at=AT)
        app.retrofits.verify_retrofit(reference=ref, agency=w.verifier,
                                      report_sha256=sha(ref + "v"), reductions={"COD": 400}, at=AT)
    app.retrofits.confirm_retrofit(reference="RF-A", administrator="admin-1", at=AT)
    with pytest.raises(OverlappingClaim):
        app.retrofits.confirm_retrofit(reference="RF-B", administrator="admin-1", at=AT)
    assert app.retrofit("RF-B").state == "verified"

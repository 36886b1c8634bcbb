"""Enterprises, agencies and expansion applications on their own."""

from __future__ import annotations

import pytest

from domain.agency import Agency
from domain.credit import GOOD, RESTRICTED
from domain.enterprise import Enterprise
from domain.errors import (
    AgencyNotEligible,
    CreditRestricted,
    InvalidCreditCode,
    InvalidInput,
    InvalidState,
    UnknownReference,
)
from domain.expansion import APPROVED, REJECTED, ExpansionApplication
from tests.support.world import AT, code


def firm(**overrides: object) -> Enterprise:
    fields: dict[str, object] = {
        "credit_code": code(1), "name": "Shenzhen Huaxin Dyeing", "sector": "TEXTILE_DYEING",
        "prefecture": "SHENZHEN", "basin": "MAOZHOU", "direct_discharger": True, "at": AT}
    fields.update(overrides)
    return Enterprise.register(**fields)  # type: ignore[arg-type]


def test_enterprise_id_is_derived_from_its_credit_code() -> None:
    assert firm().id == Enterprise.create_id(code(1)) == firm().id


@pytest.mark.parametrize(("field", "value", "error"), [
    ("credit_code", "91440300MA5F00001B", InvalidCreditCode),
    ("sector", "CASINOS", UnknownReference),
    ("prefecture", "HONG_KONG", UnknownReference),
    ("basin", "YANGTZE", UnknownReference),
    ("name", "  ", InvalidInput),
])
def test_enterprise_registration_validates_every_field(field: str, value: str,
                                                        error: type[Exception]) -> None:
    with pytest.raises(error):
        firm(**{field: value})


def test_obligation_remaining_and_clawback() -> None:
    e = firm()
    e.set_obligation(kind="COD", period=2025, target=10_000, at=AT)
    e.meet_obligation(kind="COD", period=2025, amount=4_000, retrofit_id="r")
    assert e.remaining_obligation("COD", 2025) == 6_000
    e.owe_clawback(kind="COD", period=2025, amount=1_500, retrofit_id="r")
    assert e.remaining_obligation("COD", 2025) == 7_500
    assert e.remaining_obligation("NOX", 2025) == 0
    with pytest.raises(InvalidInput):
        e.set_obligation(kind="COD", period=2025, target=-1, at=AT)
    with pytest.raises(UnknownReference):
        e.set_obligation(kind="CO2", period=2025, target=1, at=AT)


def test_credit_record_bars_and_restores_trading() -> None:
    e = firm()
    e.restrict(reason="falsified monitoring data", reference="SC-3", at=AT)
    assert e.standing == RESTRICTED
    with pytest.raises(CreditRestricted):
        e.check_may_trade()
    e.restore(reason="rectified", reference="SC-3/closed", at=AT)
    assert e.standing == GOOD
    e.check_may_trade()
    assert [c["change"] for c in e.credit_record] == ["restricted", "restored"]
    with pytest.raises(InvalidState):
        e.restore(reason="again", reference="x", at=AT)


def test_agency_verifies_only_while_accredited_and_in_good_standing() -> None:
    a = Agency.register(credit_code=code(9, "91440101MA9X"), name="Agency", at=AT)
    with pytest.raises(AgencyNotEligible):
        a.check_may_verify()
    a.accredit(accreditation="GD-CP-ACC-009", at=AT)
    a.check_may_verify()
    a.withdraw_accreditation(reason="lapsed", at=AT)
    with pytest.raises(AgencyNotEligible):
        a.check_may_verify()


def test_expansion_application_is_decided_once() -> None:
    x = ExpansionApplication.submit(reference="EX-1", enterprise=code(1),
                                    instrument="COD-2025-MAOZHOU", quantity=10,
                                    project="line 2", at=AT)
    x.approve(administrator="admin", approval="GDEE-1", at=AT)
    assert (x.state, x.approval) == (APPROVED, "GDEE-1")
    with pytest.raises(InvalidState):
        x.reject(administrator="admin", reason="late", at=AT)
    y = ExpansionApplication.submit(reference="EX-2", enterprise=code(1),
                                    instrument="COD-2025-MAOZHOU", quantity=10,
                                    project="line 3", at=AT)
    y.reject(administrator="admin", reason="not in plan", at=AT)
    assert y.state == REJECTED
    with pytest.raises(InvalidInput):
        ExpansionApplication.submit(reference="EX-3", enterprise=code(1),
                                    instrument="COD-2025-MAOZHOU", quantity=0, project="x",
                                    at=AT)


def test_an_enterprise_basin_must_run_through_its_prefecture() -> None:
    from domain.errors import InconsistentReference
    from domain.reference import BASINS, PREFECTURES

    with pytest.raises(InconsistentReference):
        Enterprise.register(credit_code=code(77), name="Zhanjiang Sugar Co", sector="PAPER",
                            prefecture="ZHANJIANG", basin="MAOZHOU", direct_discharger=True,
                            at=AT)
    e = Enterprise.register(credit_code=code(78), name="Zhanjiang Sugar Co", sector="PAPER",
                            prefecture="ZHANJIANG", basin="JIANJIANG", direct_discharger=True,
                            at=AT)
    assert e.basin == "JIANJIANG"
    # every prefecture can register somewhere
    assert all(any(p in cities for _, cities in BASINS.values()) for p in PREFECTURES)

"""Confirmed rights in the pure domain: confirmation, the surplus cap, and every change an
event with the quantity after it."""

from __future__ import annotations

import pytest

from domain.confirmed_right import ConfirmedRight
from domain.errors import InvalidInput, InvalidState, SurplusExceedsRight, UnknownReference

AT = "2025-03-01T09:00:00+08:00"
CODE = "91440300MA5F000011"


def right(quantity: int = 1_000) -> ConfirmedRight:
    return ConfirmedRight.confirm_new(enterprise=CODE, kind="COD", quantity=quantity,
                                      permit="PW-440300-2023-0001", valid_from="2023-01-01",
                                      valid_until="2027-12-31", actor="admin", at=AT)


def test_confirmation_records_the_permit_and_its_term() -> None:
    r = right()
    assert (r.quantity, r.permit["number"], r.permit["valid_until"]) == (
        1_000, "PW-440300-2023-0001", "2027-12-31")
    assert r.id == ConfirmedRight.create_id(CODE, "COD")
    assert r.changes == [{"change": "confirmed", "amount": 1_000, "ref": "PW-440300-2023-0001",
                          "at": AT, "quantity": 1_000}]


@pytest.mark.parametrize(("change", "error"), [
    ({"quantity": -1}, InvalidInput), ({"quantity": 1.5}, InvalidInput),
    ({"permit": " "}, InvalidInput), ({"valid_from": "2023-02-30"}, InvalidInput),
    ({"valid_until": "2022-12-31"}, InvalidInput), ({"kind": "CO2"}, UnknownReference),
    ({"actor": ""}, InvalidInput),
])
def test_bad_confirmations_are_refused(change: dict[str, object], error: type) -> None:
    args = {"enterprise": CODE, "kind": "COD", "quantity": 1_000, "permit": "PW-1",
            "valid_from": "2023-01-01", "valid_until": "2027-12-31", "actor": "admin",
            "at": AT, **change}
    with pytest.raises(error):
        ConfirmedRight.confirm_new(**args)  # type: ignore[arg-type]


def test_the_cap_is_right_less_level_less_obligation_less_held() -> None:
    r = right(1_000)
    r.check_issuable(amount=700, post_level=200, remaining_obligation=100, held=0)
    with pytest.raises(SurplusExceedsRight, match="at most 700"):
        r.check_issuable(amount=701, post_level=200, remaining_obligation=100, held=0)
    with pytest.raises(SurplusExceedsRight, match="at most 400"):
        r.check_issuable(amount=500, post_level=200, remaining_obligation=100, held=300)


def test_a_second_retrofit_cannot_claim_the_same_headroom_again() -> None:
    r = right(1_000)
    r.check_issuable(amount=800, post_level=200, remaining_obligation=0, held=0)
    r.record_retrofit(retrofit="RF-1", post_level=200, at=AT)
    # the same post-retrofit level again: the 800 held already claim the headroom
    with pytest.raises(SurplusExceedsRight):
        r.check_issuable(amount=100, post_level=200, remaining_obligation=0, held=800)
    # a further retrofit that lowers the level frees exactly the difference
    r.check_issuable(amount=50, post_level=150, remaining_obligation=0, held=800)


def test_sale_purchase_expansion_and_revocation_amend_the_right() -> None:
    r = right(1_000)
    r.record_retrofit(retrofit="RF-1", post_level=200, at=AT)
    r.sell(quantity=300, ref="T-1", counterparty="B", at=AT)
    r.buy(quantity=100, ref="T-2", counterparty="C", at=AT)
    r.use_for_expansion(quantity=50, expansion="EXP-1", project_permit="PW-NEW-1", at=AT)
    assert (r.quantity, r.level_in_use()) == (800, 250)
    assert r.headroom(remaining_obligation=0) == 550
    r.revoke(retrofit="RF-1", lost=100, spot_check="SC/RF-1", at=AT)
    assert (r.quantity, r.post_retrofit_level) == (700, None)
    assert [c["change"] for c in r.changes] == ["confirmed", "retrofit", "sold", "bought",
                                                "expansion", "revoked"]
    assert [c["quantity"] for c in r.changes] == [1_000, 1_000, 700, 800, 800, 700]


def test_bad_changes_are_refused() -> None:
    r = right(100)
    with pytest.raises(InvalidState):
        r.sell(quantity=101, ref="T", counterparty="B", at=AT)
    with pytest.raises(InvalidInput):
        r.buy(quantity=0, ref="T", counterparty="B", at=AT)
    with pytest.raises(InvalidInput):
        r.use_for_expansion(quantity=10, expansion="X", project_permit=" ", at=AT)
    assert r.version == 1


def test_an_exchange_settlement_is_one_change_with_its_totals() -> None:
    r = right(5_000)
    r.settle(sold=2_000, bought=500, sales=["T1"], purchases=["T2"],
             ref="COD-2025-MAOZHOU#batch7", at=AT)
    assert r.quantity == 3_500
    assert r.changes[-1] == {"change": "settled", "amount": -1_500,
                             "ref": "COD-2025-MAOZHOU#batch7", "at": AT, "quantity": 3_500,
                             "sold": 2_000, "bought": 500, "trades": 2}
    (event,) = [e for e in r.collect_events() if type(e).__name__ == "SettledOnExchange"]
    assert (event.sales, event.purchases) == (["T1"], ["T2"])


@pytest.mark.parametrize(("sold", "bought", "sales", "error"), [
    (-1, 0, ["T"], InvalidInput), (1.5, 0, ["T"], InvalidInput), (0, 0, ["T"], InvalidInput),
    (10, 0, [], InvalidInput), (0, 10, ["T"], InvalidInput), (1_001, 0, ["T"], InvalidState),
])
def test_bad_settlements_are_refused_and_change_nothing(sold: object, bought: object,
                                                        sales: list[str], error: type) -> None:
    r = right()
    with pytest.raises(error):
        r.settle(sold=sold, bought=bought, sales=sales, purchases=[], ref="X",  # type: ignore[arg-type]
                 at=AT)
    assert (r.quantity, len(r.changes)) == (1_000, 1)

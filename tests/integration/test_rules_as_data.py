"""Trading rules are data: shipped files and versions defined by event, adopted from a stated
date; instruments keep trading under the version they opened with (or move by an event)."""

from __future__ import annotations

from typing import Any

import pytest

from domain.errors import AlreadyExists, InvalidInput, OutsideTradingZone, UnknownReference
from registry.bootstrap import Registry, build_registry
from registry.rulebook import builtin_rulebook
from tests.support.world import AT, build_world, code, issue

#: air rights trade province-wide under this (illustrative) version
PROVINCE_AIR: dict[str, Any] = {
    "version": "GD-2026.1", "scopes": {"water": "basin", "air": "province",
                                       "energy": "province"},
    "sector_isolated_families": ["air"], "isolated_sector": "THERMAL_POWER",
    "direct_discharger_kinds": ["COD", "NH3N"],
}


@pytest.fixture
def app() -> Registry:
    return build_registry({"REGISTRY_STORE": "memory"})


def test_the_shipped_version_is_read_from_its_file() -> None:
    r = builtin_rulebook().get("GD-2023.1")
    assert r.scope("COD") == "basin" and r.scope("NOX") == "prefecture"
    with pytest.raises(UnknownReference):
        builtin_rulebook().get("GD-1999.1")


def test_a_version_is_defined_once_and_checked(app: Registry) -> None:
    assert app.define_rules(data=PROVINCE_AIR, administrator="admin-r", at=AT) == "GD-2026.1"
    with pytest.raises(AlreadyExists):
        app.define_rules(data=PROVINCE_AIR, administrator="admin-r", at=AT)
    with pytest.raises(AlreadyExists):
        app.define_rules(data={**PROVINCE_AIR, "version": "GD-2023.1"}, administrator="a",
                         at=AT)
    with pytest.raises(InvalidInput):
        app.define_rules(data={**PROVINCE_AIR, "version": "GD-2027.1",
                               "scopes": {"water": "planet"}}, administrator="a", at=AT)
    with pytest.raises(UnknownReference):
        app.adopt_rules(version="GD-2030.1", administrator="a", at=AT)
    with pytest.raises(InvalidInput):  # not backdated
        app.adopt_rules(version="GD-2026.1", administrator="a", at=AT,
                        effective_from="2024-01-01")


def test_instruments_keep_trading_under_their_rules_after_a_new_version(
        app: Registry) -> None:
    w = build_world(app)
    issue(app, w, reference="RF-N", enterprise=w.electronics, kind="NOX", baseline=9_000,
          post=0)
    assert app.instrument("NOX-2025-SHENZHEN").rules_version("?") == "GD-2023.1"
    app.define_rules(data=PROVINCE_AIR, administrator="admin-r", at=AT)
    app.adopt_rules(version="GD-2026.1", administrator="admin-r", at=AT,
                    effective_from="2025-06-01")
    assert app.current_rules("2025-05-31T12:00:00+08:00").version == "GD-2023.1"
    assert app.current_rules("2025-06-01T00:00:00+08:00").version == "GD-2026.1"
    later = "2025-07-01T10:00:00+08:00"
    # issued after the date: air rights of the new version go to a province-wide instrument
    issue(app, w, reference="RF-N2", enterprise=w.dyeing, kind="NOX", baseline=4_000, post=0,
          at=later)
    assert app.instrument("NOX-2025-GD").rules_version("?") == "GD-2026.1"
    # the Shenzhen instrument still trades under its own version: within Shenzhen only
    huizhou = code(50)
    app.register_enterprise(credit_code=huizhou, name="Huizhou Paint Co", sector="PETROCHEMICAL",
                            prefecture="HUIZHOU", basin="DANSHUI", direct_discharger=True,
                            at=AT)
    with pytest.raises(OutsideTradingZone):
        app.holdings.transfer(instrument="NOX-2025-SHENZHEN", seller=w.electronics, buyer=huizhou,
                              quantity=1_000, ref="T-1", at=later, reason="correction",
                              administrator="admin-t")
    assert app.holdings.transfer(instrument="NOX-2025-SHENZHEN", seller=w.electronics,
                                 buyer=w.dyeing, quantity=1_000, ref="T-2", at=later,
                                 reason="merger", administrator="admin-t") == "GD-2023.1"
    assert app.holdings.transfer(instrument="NOX-2025-GD", seller=w.dyeing, buyer=huizhou,
                                 quantity=1_000, ref="T-3", at=later, reason="court-order",
                                 administrator="admin-t") == "GD-2026.1"
    # an administrator may move an instrument to another version, by a documented event
    app.move_instrument_rules(instrument="NOX-2025-SHENZHEN", version="GD-2026.1",
                              reason="province-wide air market", administrator="admin-r",
                              at=later)
    assert app.instrument("NOX-2025-SHENZHEN").rules_version("?") == "GD-2026.1"


def test_transfers_outside_the_exchange_need_a_non_trade_reason_and_an_administrator(
        app: Registry) -> None:
    w = build_world(app)
    issue(app, w, reference="RF-1", enterprise=w.dyeing, kind="COD", baseline=5_000, post=0)
    position = app.queries.position()
    for reason, admin in (("sale", "admin-t"), ("merger", " ")):
        with pytest.raises(InvalidInput):
            app.holdings.transfer(instrument="COD-2025-MAOZHOU", seller=w.dyeing, buyer=w.paper,
                                  quantity=1_000, ref="T-1", at=AT, reason=reason,
                                  administrator=admin)
    assert app.queries.position() == position  # refused: nothing written

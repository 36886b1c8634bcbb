"""Trading-scope rules as versioned data."""

from __future__ import annotations

import pytest

from domain.errors import OutsideTradingZone, UnknownReference
from domain.rules import Party
from registry.rulebook import CURRENT_RULES, rules

R = rules(CURRENT_RULES)


def party(code: str = "A", *, sector: str = "PAPER", city: str = "SHENZHEN",
          basin: str = "MAOZHOU", direct: bool = True) -> Party:
    return Party(credit_code=code, sector=sector, prefecture=city, basin=basin,
                 direct_discharger=direct)


def test_water_trades_within_one_river_basin() -> None:
    R.check_transfer("COD", "MAOZHOU", party("A"), party("B", city="DONGGUAN"))
    with pytest.raises(OutsideTradingZone):
        R.check_transfer("COD", "MAOZHOU", party("A"), party("B", basin="DANSHUI"))


def test_air_trades_within_one_prefecture() -> None:
    R.check_transfer("NOX", "SHENZHEN", party("A"), party("B", basin="DANSHUI"))
    with pytest.raises(OutsideTradingZone):
        R.check_transfer("NOX", "SHENZHEN", party("A"), party("B", city="DONGGUAN"))


def test_energy_trades_across_the_province() -> None:
    R.check_transfer("ENERGY", "GD", party("A"), party("B", city="ZHANJIANG", basin="JIANJIANG"))


def test_thermal_power_may_not_trade_air_rights_with_other_sectors() -> None:
    power = party("P", sector="THERMAL_POWER")
    with pytest.raises(OutsideTradingZone):
        R.check_transfer("NOX", "SHENZHEN", power, party("B"))
    with pytest.raises(OutsideTradingZone):
        R.check_transfer("SO2", "SHENZHEN", party("B"), power)
    R.check_transfer("NOX", "SHENZHEN", power, party("Q", sector="THERMAL_POWER"))
    R.check_transfer("COD", "MAOZHOU", power, party("B"))  # water is not sector-isolated


def test_cod_and_nh3n_only_between_direct_dischargers() -> None:
    with pytest.raises(OutsideTradingZone):
        R.check_transfer("NH3N", "MAOZHOU", party("A"), party("B", direct=False))
    with pytest.raises(OutsideTradingZone):
        R.check_transfer("COD", "MAOZHOU", party("A", direct=False), party("B"))


def test_unknown_rule_version_is_refused() -> None:
    with pytest.raises(UnknownReference):
        rules("GD-1999.9")


def test_the_term_of_new_instruments_is_rule_data() -> None:
    from domain.errors import InvalidInput
    from domain.rules import TradingRules

    assert rules(CURRENT_RULES).term_years == 5  # registry/rules/GD-2023.1.json
    data = rules(CURRENT_RULES).to_dict()
    assert TradingRules.from_dict({**data, "term_years": 3}).term_years == 3
    assert TradingRules.from_dict({k: v for k, v in data.items()
                                   if k != "term_years"}).term_years == 5  # older data
    for bad in (0, 31, "5", 2.5, True):
        with pytest.raises(InvalidInput):
            TradingRules.from_dict({**data, "term_years": bad})

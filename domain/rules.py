"""Trading-scope rules as versioned data.

A rule set names, per indicator family, the zone within which units may trade, plus the special
restrictions of the programme. Rule sets are never edited in place: a change is a new version,
and every transfer records the version it was checked against, so an auditor can re-check it.
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.errors import OutsideTradingZone, UnknownReference
from domain.reference import PROVINCE, kind_info

#: zone scope per family: "basin" (river basin), "prefecture" (city) or "province"
Scope = str


@dataclass(frozen=True)
class Party:
    """What the rules need to know of an enterprise."""

    credit_code: str
    sector: str
    prefecture: str
    basin: str
    direct_discharger: bool


@dataclass(frozen=True)
class TradingRules:
    version: str
    scopes: tuple[tuple[str, Scope], ...]
    #: thermal power may not trade these families with other sectors
    sector_isolated_families: tuple[str, ...]
    isolated_sector: str
    #: kinds that may change hands only between direct dischargers
    direct_discharger_kinds: tuple[str, ...]

    def scope(self, kind: str) -> Scope:
        return dict(self.scopes)[kind_info(kind).family]

    def zone_of(self, kind: str, party: Party) -> str:
        """The trading zone a party's units of this kind belong to."""
        scope = self.scope(kind)
        if scope == "basin":
            return party.basin
        if scope == "prefecture":
            return party.prefecture
        return PROVINCE

    def check_transfer(self, kind: str, zone: str, seller: Party, buyer: Party) -> None:
        """Raise ``OutsideTradingZone`` unless ``seller`` may transfer ``kind`` units of ``zone``
        to ``buyer``."""
        if self.zone_of(kind, buyer) != zone:
            raise OutsideTradingZone(
                f"{kind} units of zone {zone} may not go to {buyer.credit_code}, whose "
                f"{self.scope(kind)} is {self.zone_of(kind, buyer)} (rules {self.version})"
            )
        family = kind_info(kind).family
        if family in self.sector_isolated_families:
            sectors = {seller.sector == self.isolated_sector, buyer.sector == self.isolated_sector}
            if len(sectors) == 2:
                raise OutsideTradingZone(
                    f"{self.isolated_sector} may not trade {family} rights with other sectors "
                    f"(rules {self.version})"
                )
        if kind in self.direct_discharger_kinds and not (
            seller.direct_discharger and buyer.direct_discharger
        ):
            raise OutsideTradingZone(
                f"{kind} may change hands only between direct dischargers (rules {self.version})"
            )


RULESETS: dict[str, TradingRules] = {
    "GD-2023.1": TradingRules(
        version="GD-2023.1",
        scopes=(("water", "basin"), ("air", "prefecture"), ("energy", "province")),
        sector_isolated_families=("air",),
        isolated_sector="THERMAL_POWER",
        direct_discharger_kinds=("COD", "NH3N"),
    ),
}

CURRENT_RULES = "GD-2023.1"


def rules(version: str) -> TradingRules:
    try:
        return RULESETS[version]
    except KeyError:
        raise UnknownReference(f"unknown trading rules version {version!r}") from None

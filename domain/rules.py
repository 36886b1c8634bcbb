"""Trading-scope rules as versioned data.

A rule set names, per indicator family, the zone within which units may trade, plus the special
restrictions of the programme. Rule sets are never edited in place: a change is a new version,
and every transfer records the version it was checked against, so an auditor can re-check it.
The versions are data (`TradingRules.from_dict`): files read when the registry starts
(``registry/rules/*.json``) and versions administrators define by event; the domain holds no
rule set of its own.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from domain.errors import InvalidInput, OutsideTradingZone, UnknownReference
from domain.reference import PROVINCE, check_sector, kind_info

FAMILIES = ("air", "energy", "water")
SCOPES = ("basin", "prefecture", "province")
VERSION = re.compile(r"[A-Z]{2}-[0-9]{4}\.[0-9]{1,3}")

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


#: the term of an instrument's units, in years after its vintage, when a rule set names none
DEFAULT_TERM_YEARS = 5


@dataclass(frozen=True)
class TradingRules:
    version: str
    scopes: tuple[tuple[str, Scope], ...]
    #: thermal power may not trade these families with other sectors
    sector_isolated_families: tuple[str, ...]
    isolated_sector: str
    #: kinds that may change hands only between direct dischargers
    direct_discharger_kinds: tuple[str, ...]
    #: an instrument opened under these rules has units that are annual rights for this many
    #: years after its vintage (`domain.instrument.Term`)
    term_years: int = DEFAULT_TERM_YEARS

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


    def to_dict(self) -> dict[str, Any]:
        """The rule set as data (what a rules file or a ``RulesDefined`` event holds)."""
        return {"version": self.version, "scopes": dict(self.scopes),
                "sector_isolated_families": list(self.sector_isolated_families),
                "isolated_sector": self.isolated_sector,
                "direct_discharger_kinds": list(self.direct_discharger_kinds),
                "term_years": self.term_years}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TradingRules:
        """A rule set from data, checked: every family has a scope, every kind and sector
        is known. Unknown keys other than a ``title`` are refused."""
        if not isinstance(data, Mapping):
            raise InvalidInput("a rule set is a JSON object")
        extra = set(data) - {"version", "title", "scopes", "sector_isolated_families",
                             "isolated_sector", "direct_discharger_kinds", "term_years"}
        if extra:
            raise InvalidInput(f"unknown rule-set fields {sorted(extra)}")
        try:
            version, scopes = data["version"], data["scopes"]
            isolated = tuple(data["sector_isolated_families"])
            sector = data["isolated_sector"]
            direct = tuple(data["direct_discharger_kinds"])
        except (KeyError, TypeError):
            raise InvalidInput("a rule set needs version, scopes, sector_isolated_families, "
                               "isolated_sector and direct_discharger_kinds") from None
        if type(version) is not str or not VERSION.fullmatch(version):
            raise InvalidInput(f"a rule version reads like GD-2023.1, got {version!r}")
        if not isinstance(scopes, Mapping) or set(scopes) != set(FAMILIES) or any(
                v not in SCOPES for v in scopes.values()):
            raise InvalidInput(f"scopes give each of {FAMILIES} one of {SCOPES}")
        if any(f not in FAMILIES for f in isolated):
            raise InvalidInput(f"sector_isolated_families are among {FAMILIES}")
        check_sector(sector)
        for kind in direct:
            kind_info(kind)
        term = data.get("term_years", DEFAULT_TERM_YEARS)
        if type(term) is not int or not 1 <= term <= 30:
            raise InvalidInput(f"term_years is a whole number of years from 1 to 30, got {term!r}")
        return cls(version=version, scopes=tuple(sorted(scopes.items())),
                   sector_isolated_families=isolated, isolated_sector=sector,
                   direct_discharger_kinds=direct, term_years=term)


class RuleBook:
    """Every rule version known: read from the rules files at start and from the
    ``RulesDefined`` events of the catalogue. A version, once known, never changes."""

    def __init__(self, versions: Mapping[str, TradingRules]) -> None:
        self._versions = dict(versions)

    def get(self, version: str) -> TradingRules:
        try:
            return self._versions[version]
        except KeyError:
            raise UnknownReference(f"unknown trading rules version {version!r}") from None

    def versions(self) -> list[str]:
        return sorted(self._versions)

    def with_versions(self, more: Mapping[str, TradingRules]) -> RuleBook:
        clash = [v for v in more if v in self._versions and more[v] != self._versions[v]]
        if clash:
            raise InvalidInput(f"rule versions {clash} are already defined otherwise")
        return RuleBook({**self._versions, **more})


#: the version in force before any adoption, and under which instruments opened before rule
#: versions were assigned keep trading
FIRST_RULES = "GD-2023.1"

"""The trading-rule versions as data: the files under ``registry/rules/`` read once, when first
asked (never at import), plus the versions administrators define by event (the catalogue's
``RulesDefined``). Which version applies:

* to issuance, and to an instrument opened by it: the version in force on the day
  (`Catalogue.rules_in_force`: the latest adoption whose stated date has come);
* to every transfer of an instrument: the version the instrument was assigned when it was
  opened (``Instrument.RulesAssigned``), so a new version never strands units already issued;
  an administrator may move an instrument to another version by that same documented event.
  Instruments opened before versions were assigned trade under `domain.rules.FIRST_RULES`.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

from domain.rules import FIRST_RULES, RuleBook, TradingRules

#: the version in force when no administrator has adopted another
CURRENT_RULES = FIRST_RULES


@cache
def builtin_rulebook() -> RuleBook:
    """The versions shipped as files (``registry/rules/<version>.json``)."""
    versions: dict[str, TradingRules] = {}
    for entry in sorted(resources.files("registry").joinpath("rules").iterdir(),
                        key=lambda e: e.name):
        if entry.name.endswith(".json"):
            r = TradingRules.from_dict(json.loads(entry.read_text(encoding="utf-8")))
            if f"{r.version}.json" != entry.name:
                raise ValueError(f"rules file {entry.name} holds version {r.version}")
            versions[r.version] = r
    return RuleBook(versions)


def rules(version: str) -> TradingRules:
    """A shipped version (`UnknownReference` otherwise)."""
    return builtin_rulebook().get(version)

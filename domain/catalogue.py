"""The catalogue: one aggregate listing every enterprise, agency, retrofit, instrument and
application by natural key, so the registry can enumerate them without a secondary index.

It changes in the same atomic save as the aggregate it lists; a concurrent creation conflicts and
the command is retried.
"""

from __future__ import annotations

import re
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.errors import AlreadyExists, InvalidInput
from domain.topics import aggregate_topic, event_topic, natural_id

DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

SECTIONS = ("enterprises", "agencies", "retrofits", "instruments", "expansions")


class Catalogue(Aggregate):
    TOPIC = aggregate_topic("Catalogue")

    class Created(Aggregate.Created):
        TOPIC = event_topic("Catalogue", "Created")

    @staticmethod
    def create_id(**_: Any) -> UUID:
        return natural_id("/catalogue")

    @event("Started", topic=event_topic("Catalogue", "Started"))
    def __init__(self) -> None:
        self.entries: dict[str, list[str]] = {s: [] for s in SECTIONS}
        self.rules_version: str | None = None
        self.rules_history: list[dict[str, str]] = []
        self.rules_defined: dict[str, dict[str, Any]] = {}

    @event("Listed", topic=event_topic("Catalogue", "Listed"))
    def add(self, section: str, key: str) -> None:
        # setdefault: a section added later (sampling rounds, confirmed rights) is absent from
        # catalogues started, or snapshotted, before it existed
        self.entries.setdefault(section, []).append(key)

    def listed(self, section: str) -> list[str]:
        return list(self.entries.get(section, ()))

    @event("RulesAdopted", topic=event_topic("Catalogue", "RulesAdopted"))
    def _rules_adopted(self, version: str, administrator: str, at: str) -> None:
        """Stored before adoptions named a date: in force from the day it was recorded."""
        self.rules_version = version
        self.rules_history.append({"version": version, "administrator": administrator, "at": at})

    # -- rules as data -------------------------------------------------------------------------

    def defined_rules(self) -> dict[str, dict[str, Any]]:
        """Rule versions administrators defined by event: version -> data."""
        return dict(getattr(self, "rules_defined", {}))

    def define_rules(self, *, data: dict[str, Any], administrator: str, at: str) -> None:
        """Record a new rule version as data (checked by the caller against the rule book:
        a version never changes once known)."""
        if not administrator.strip():
            raise InvalidInput("defining rules needs the administrator's id")
        version = str(data.get("version"))
        if version in self.defined_rules():
            raise AlreadyExists(f"rule version {version!r} is already defined")
        self._rules_defined(version=version, data=data, administrator=administrator, at=at)

    @event("RulesDefined", topic=event_topic("Catalogue", "RulesDefined"))
    def _rules_defined(self, version: str, data: dict[str, Any], administrator: str,
                       at: str) -> None:
        # a snapshot taken before versions were defined by event has no such attribute
        defined: dict[str, dict[str, Any]] = getattr(self, "rules_defined", {})
        defined[version] = data
        self.rules_defined = defined

    def adopt_rules(self, *, version: str, effective_from: str, administrator: str,
                    at: str) -> None:
        """Rules in force from ``effective_from`` (an ISO date, not before the adoption's own
        day): what issuance and newly opened instruments use from then on."""
        if not administrator.strip():
            raise InvalidInput("adopting rules needs the administrator's id")
        if type(effective_from) is not str or not DATE.fullmatch(effective_from):
            raise InvalidInput(f"effective_from is an ISO date, got {effective_from!r}")
        if effective_from < at[:10]:
            raise InvalidInput("rules are adopted from a date to come, not backdated")
        self._rules_scheduled(version=version, effective_from=effective_from,
                              administrator=administrator, at=at)

    @event("RulesScheduled", topic=event_topic("Catalogue", "RulesScheduled"))
    def _rules_scheduled(self, version: str, effective_from: str, administrator: str,
                         at: str) -> None:
        self.rules_history.append({"version": version, "administrator": administrator,
                                   "at": at, "effective_from": effective_from})

    def rules_in_force(self, on: str) -> str | None:
        """The version in force on ``on`` (ISO date): the latest adoption whose date has come
        (None: no adoption yet)."""
        found: tuple[str, int] | None = None
        version = None
        for n, entry in enumerate(self.rules_history):
            starts = entry.get("effective_from") or entry["at"][:10]
            if starts <= on and (found is None or (starts, n) >= found):
                found, version = (starts, n), entry["version"]
        return version

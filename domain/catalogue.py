"""The catalogue: one aggregate listing every enterprise, agency, retrofit, instrument and
application by natural key, so the registry can enumerate them without a secondary index.

It changes in the same atomic save as the aggregate it lists; a concurrent creation conflicts and
the command is retried.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.topics import aggregate_topic, event_topic, natural_id

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

    @event("Listed", topic=event_topic("Catalogue", "Listed"))
    def add(self, section: str, key: str) -> None:
        # users and proposals came later than the first catalogues: their sections start empty
        self.entries.setdefault(section, []).append(key)

    @event("RulesAdopted", topic=event_topic("Catalogue", "RulesAdopted"))
    def adopt_rules(self, version: str, administrator: str, at: str) -> None:
        """Trading-scope rules in force from now on; every transfer records the version."""
        self.rules_version = version
        self.rules_history.append({"version": version, "administrator": administrator, "at": at})

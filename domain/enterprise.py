"""Enterprises (排污单位/用能单位), keyed by their unified social credit code.

An enterprise carries its own reduction and energy-saving tasks (obligations) per kind and
period, and a credit standing that bars it from trading while restricted.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.credit import GOOD, CreditRecord
from domain.credit_code import validate_credit_code
from domain.errors import (
    CreditRestricted,
    InvalidInput,
    InvalidState,
    ObligationRefused,
    OverlappingClaim,
)
from domain.reference import (
    check_basin,
    check_basin_runs_through,
    check_prefecture,
    check_sector,
    kind_info,
)
from domain.rules import Party
from domain.topics import aggregate_topic, event_topic, natural_id


def obligation_key(kind: str, period: int) -> str:
    return f"{kind}:{period}"


class Enterprise(CreditRecord, Aggregate):
    TOPIC = aggregate_topic("Enterprise")

    class Created(Aggregate.Created):
        TOPIC = event_topic("Enterprise", "Created")

    @staticmethod
    def create_id(credit_code: str, **_: Any) -> UUID:
        return natural_id(f"/enterprises/{credit_code}")

    @classmethod
    def register(
        cls, *, credit_code: str, name: str, sector: str, prefecture: str, basin: str,
        direct_discharger: bool, at: str,
    ) -> Enterprise:
        validate_credit_code(credit_code)
        check_sector(sector)
        check_prefecture(prefecture)
        check_basin(basin)
        check_basin_runs_through(basin, prefecture)
        if not name.strip():
            raise InvalidInput("an enterprise needs a name")
        return cls(
            credit_code=credit_code, name=name, sector=sector, prefecture=prefecture,
            basin=basin, direct_discharger=bool(direct_discharger), at=at,
        )

    @event("Registered", topic=event_topic("Enterprise", "Registered"))
    def __init__(
        self, credit_code: str, name: str, sector: str, prefecture: str, basin: str,
        direct_discharger: bool, at: str,
    ) -> None:
        self.credit_code = credit_code
        self.name = name
        self.sector = sector
        self.prefecture = prefecture
        self.basin = basin
        self.direct_discharger = direct_discharger
        self.registered_at = at
        self.standing = GOOD
        self.credit_record: list[dict[str, str]] = []
        #: "KIND:period" -> {"target": kg, "achieved": kg, "clawback": kg owed in it}
        self.obligations: dict[str, dict[str, int]] = {}
        #: kind -> [[retrofit reference, verified post-retrofit level, period], …], oldest
        #: first: the next retrofit's baseline starts from the last (no double counting)
        self.levels: dict[str, list[list[Any]]] = {}
        #: a transfer or an agreement out of the account needs a second representative's
        #: confirmation (on from registration; `SecondRepresentativeSet` changes it)
        self.second_representative = True

    # -- the second representative -------------------------------------------------------------

    @property
    def needs_second_representative(self) -> bool:
        return bool(self.__dict__.get("second_representative", True))  # older snapshots: on

    def set_second_representative(self, *, required: bool, at: str) -> None:
        if not isinstance(required, bool):
            raise InvalidInput("required is true or false")
        if required == self.needs_second_representative:
            raise InvalidState(f"{self.credit_code} already has the second representative "
                               f"{'required' if required else 'not required'}")
        self._second_representative_set(required=required, at=at)

    @event("SecondRepresentativeSet",
           topic=event_topic("Enterprise", "SecondRepresentativeSet"))
    def _second_representative_set(self, required: bool, at: str) -> None:
        self.second_representative = required

    # -- obligations ---------------------------------------------------------------------------

    def set_obligation(self, *, kind: str, period: int, target: int, at: str,
                       reason: str = "", administrator: str = "") -> None:
        """Set the task for a kind and period. Changing a task already set needs a reason; a
        target below what is already achieved, or below the clawback debt owed in it, is
        refused (it would wipe a debt or un-meet a met task without a trace)."""
        kind_info(kind)
        if not isinstance(target, int) or isinstance(target, bool) or target < 0:
            raise InvalidInput("an obligation target is a non-negative integer of kg / kgce")
        entry = self.obligations.get(obligation_key(kind, period), {})
        previous = entry.get("target")
        if previous is not None and not reason.strip():
            raise InvalidInput("changing an obligation needs a reason")
        if target < entry.get("achieved", 0):
            raise ObligationRefused(f"target {target} is below the {entry['achieved']} already "
                                    f"achieved for {kind} {period}")
        if target < entry.get("clawback", 0):
            raise ObligationRefused(f"target {target} would clear the clawback debt of "
                                    f"{entry['clawback']} owed for {kind} {period}")
        self._obligation_changed(kind=kind, period=period, target=target, previous=previous,
                                 reason=reason.strip() or "task set",
                                 administrator=administrator, at=at)

    @event("ObligationSet", topic=event_topic("Enterprise", "ObligationSet"))
    def _obligation_set(self, kind: str, period: int, target: int, at: str) -> None:
        """Stored before obligation changes carried a reason: replayed as they were."""
        entry = self.obligations.setdefault(obligation_key(kind, period), {"achieved": 0})
        entry["target"] = target

    @event("ObligationChanged", topic=event_topic("Enterprise", "ObligationChanged"))
    def _obligation_changed(self, kind: str, period: int, target: int, previous: int | None,
                            reason: str, administrator: str, at: str) -> None:
        entry = self.obligations.setdefault(obligation_key(kind, period), {"achieved": 0})
        entry["target"] = target

    # -- verified levels (no double counting) --------------------------------------------------

    def _latest(self, kind: str, period: int | None) -> list[Any] | None:
        history = [h for h in self.levels.get(kind, []) if period is None or h[2] <= period]
        return history[-1] if history else None

    def latest_level(self, kind: str, period: int | None = None) -> int | None:
        """The latest verified post-retrofit level of ``kind`` (of retrofits of ``period`` or
        earlier, if given)."""
        latest = self._latest(kind, period)
        return None if latest is None else int(latest[1])

    def check_baseline(self, kind: str, baseline: int, retrofit: str, period: int) -> None:
        """A retrofit's baseline starts from the latest verified post-retrofit level (of
        retrofits of its period or earlier): one above it claims again a reduction another
        retrofit was credited with."""
        found = self._latest(kind, period)
        latest = None if found is None else int(found[1])
        if found is not None and latest is not None and baseline > latest:
            owner = found[0]
            raise OverlappingClaim(
                f"retrofit {retrofit}: {kind} baseline {baseline} is above the level {latest} "
                f"verified after retrofit {owner}; the reduction down to it is already claimed")

    @event("VerifiedLevelRecorded", topic=event_topic("Enterprise", "VerifiedLevelRecorded"))
    def record_level(self, kind: str, level: int, retrofit: str, period: int, at: str) -> None:
        self.levels.setdefault(kind, []).append([retrofit, level, period])

    @event("RetrofitReversed", topic=event_topic("Enterprise", "RetrofitReversed"))
    def reverse_retrofit(self, kind: str, period: int, obligation_credit: int, retrofit: str,
                         reason: str, at: str) -> None:
        """A revoked retrofit gives back what it counted towards the task, and its verified
        level no longer stands."""
        entry = self.obligations.setdefault(obligation_key(kind, period), {"target": 0})
        entry["achieved"] = max(0, entry.get("achieved", 0) - obligation_credit)
        history = self.levels.get(kind, [])
        self.levels[kind] = [h for h in history if h[0] != retrofit]
        if not self.levels[kind]:
            del self.levels[kind]

    def remaining_obligation(self, kind: str, period: int) -> int:
        entry = self.obligations.get(obligation_key(kind, period))
        if entry is None:
            return 0
        return max(0, entry.get("target", 0) - entry["achieved"])

    @event("ObligationMet", topic=event_topic("Enterprise", "ObligationMet"))
    def meet_obligation(self, kind: str, period: int, amount: int, retrofit_id: str) -> None:
        """Count a verified reduction towards the enterprise's own task (no guard: the retrofit
        confirmation computed the amount)."""
        entry = self.obligations.setdefault(obligation_key(kind, period), {"target": 0})
        entry["achieved"] = entry.get("achieved", 0) + amount

    @event("ClawbackOwed", topic=event_topic("Enterprise", "ClawbackOwed"))
    def owe_clawback(self, kind: str, period: int, amount: int, retrofit_id: str) -> None:
        """Units of a revoked retrofit that were already consumed or retired cannot be taken
        back: they are added to the enterprise's task for that kind and period instead."""
        entry = self.obligations.setdefault(obligation_key(kind, period), {"achieved": 0})
        entry["target"] = entry.get("target", 0) + amount
        entry["clawback"] = entry.get("clawback", 0) + amount

    # -- credit record -------------------------------------------------------------------------

    @event("CreditRestricted", topic=event_topic("Enterprise", "CreditRestricted"))
    def _restricted(self, reason: str, reference: str, at: str) -> None:
        self._note("restricted", reason, reference, at)

    @event("CreditRestored", topic=event_topic("Enterprise", "CreditRestored"))
    def _restored(self, reason: str, reference: str, at: str) -> None:
        self._note("restored", reason, reference, at)

    def check_may_trade(self) -> None:
        if self.standing != GOOD:
            raise CreditRestricted(
                f"{self.credit_code} is barred from trading by its credit record"
            )

    def party(self) -> Party:
        return Party(
            credit_code=self.credit_code, sector=self.sector, prefecture=self.prefecture,
            basin=self.basin, direct_discharger=self.direct_discharger,
        )

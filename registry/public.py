"""What the registry publishes to anyone, without a login: every issued lot (instrument, serial
range, retrofit, agencies, the state of its units), every retirement, and the credit records
that restrict an enterprise or an agency (violations made public).

Read-only: nothing here changes state or applies a business rule; it reads the current
aggregates (through the registry's read copies) and the event log. A published view names the
issuing enterprise, the agencies and the retiring holder, as public registries do, and never a
holding, an order or a cash balance.

`PublicRegistry.view` answers from a snapshot taken at a log position and takes a new one only
when something was committed since: the console's public pages are read far more often than
the registry changes. Following the log, each event is read once: retirements and credit
changes are kept, and each instrument's lots are taken anew only when the instrument or one of
its lots' retrofits has a new event.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from domain.errors import NotFound
from domain.instrument import STATES, Instrument, serial_label
from domain.retrofit import Retrofit
from domain.topics import event_topic
from registry.app import RegistryBase, instrument_id
from registry.log_reader import LogReader

RETIRED_TOPIC = event_topic("Instrument", "Retired")
CREDIT_TOPICS = {
    event_topic(party, change): (party.lower(), change)
    for party in ("Enterprise", "Agency")
    for change in ("CreditRestricted", "CreditRestored")
}
STAGES = ("baseline_audit", "post_audit", "verification")


@dataclass(frozen=True)
class Party:
    """An enterprise or agency as published: its unified social credit code and name."""

    code: str
    name: str


@dataclass(frozen=True)
class PublicLot:
    """One issued lot: a contiguous serial range of one instrument from one retrofit."""

    instrument: str
    kind: str
    vintage: int
    zone: str
    term: dict[str, Any]  # the years its units are annual rights for (`Term.view`)
    lot: str
    first: int
    last: int
    serials: str
    enterprise: Party
    retrofit: str
    retrofit_state: str
    agencies: dict[str, Party]  # stage -> the agency that filed it
    issued_at: str
    expires_on: str
    revoked: bool
    units: dict[str, int]  # unit state -> how many of the lot's units are in it (+ frozen)

    @property
    def quantity(self) -> int:
        return self.last - self.first + 1


@dataclass(frozen=True)
class Retirement:
    """Units given up for good by their holder (voluntary cancellation)."""

    position: int
    instrument: str
    kind: str
    holder: Party
    quantity: int
    reason: str
    at: str
    serials: tuple[str, ...]


@dataclass(frozen=True)
class CreditChange:
    change: str  # restricted | restored
    reason: str
    reference: str
    at: str


@dataclass(frozen=True)
class CreditRecord:
    """A party whose credit record has at least one change, with all of them."""

    role: str  # enterprise | agency
    party: Party
    standing: str
    changes: tuple[CreditChange, ...]

    @property
    def latest(self) -> str:
        return self.changes[-1].at if self.changes else ""


@dataclass(frozen=True)
class PublicView:
    """The published registry as of log ``position``."""

    position: int
    lots: tuple[PublicLot, ...]
    retirements: tuple[Retirement, ...]
    credit_records: tuple[CreditRecord, ...]
    totals: dict[str, dict[str, int]]  # kind -> issued / retired / revoked / consumed units


@dataclass
class _Followed:
    """What following the log has found so far."""

    log: LogReader
    retirements: list[Retirement] = field(default_factory=list)
    credit_parties: dict[tuple[str, UUID], None] = field(default_factory=dict)  # ordered set
    changed: set[UUID] = field(default_factory=set)  # aggregates with events since the snapshot


@dataclass(frozen=True)
class _InstrumentPart:
    """One instrument's share of the view, kept until the instrument or a retrofit of its
    lots has a new event."""

    lots: tuple[PublicLot, ...]
    totals: dict[str, int]
    retrofits: frozenset[UUID]


class PublicRegistry:
    """The public view of one registry, refreshed when the log has moved."""

    def __init__(self, registry: RegistryBase, *, page: int = 1000) -> None:
        self.registry = registry
        self.page = page
        self._lock = threading.Lock()
        self._followed = _Followed(LogReader(registry, page=page))
        self._view: PublicView | None = None
        self._parts: dict[str, _InstrumentPart] = {}
        self._records: dict[UUID, CreditRecord] = {}
        self._names: dict[tuple[str, str], str] = {}  # names never change once registered

    def view(self) -> PublicView:
        """The published registry, including everything committed before the call."""
        with self._lock:
            head = int(self.registry.recorder.max_notification_id() or 0)
            if self._view is None or self._view.position != head:
                self._follow(head)
                self._view = self._snapshot(head)
            return self._view

    # -- following the log ---------------------------------------------------------------------

    def _follow(self, head: int) -> None:
        """Read what was committed up to ``head``: retirements and credit changes are kept,
        and every aggregate with a new event is noted, so only its part is taken anew."""
        followed = self._followed
        for n in followed.log.notifications(stop=head):
            followed.changed.add(n.originator_id)
            if n.topic == RETIRED_TOPIC:
                followed.retirements.append(self._retirement(n.id, followed.log.decode(n)))
            elif n.topic in CREDIT_TOPICS:
                role, _ = CREDIT_TOPICS[n.topic]
                followed.credit_parties[(role, n.originator_id)] = None

    def _retirement(self, position: int, event: Any) -> Retirement:
        with self.registry.reading_instrument(self._instrument_code(event.originator_id)) as i:
            instrument, kind = i.code, i.kind
        return Retirement(
            position=position, instrument=instrument, kind=kind,
            holder=self._party("enterprise", event.owner), quantity=event.quantity,
            reason=event.reason, at=event.at,
            serials=tuple(serial_label(instrument, first, last) for _, first, last in event.moves))

    def _instrument_code(self, aggregate_id: UUID) -> str:
        with self.registry.reading_catalogue() as catalogue:
            return next(c for c in catalogue.entries["instruments"]
                        if instrument_id(c) == aggregate_id)

    # -- the snapshot --------------------------------------------------------------------------

    def _snapshot(self, head: int) -> PublicView:
        changed = self._followed.changed
        with self.registry.reading_catalogue() as catalogue:
            codes = sorted(catalogue.entries["instruments"])
        lots: list[PublicLot] = []
        totals: dict[str, dict[str, int]] = {}
        for code in codes:
            part = self._parts.get(code)
            if part is None or instrument_id(code) in changed or part.retrofits & changed:
                part = self._parts[code] = self._part(code)
            lots.extend(part.lots)
            kind = code.split("-", 1)[0]
            per_kind = totals.setdefault(kind, dict.fromkeys(("issued", *STATES), 0))
            for column, n in part.totals.items():
                per_kind[column] += n
        records = self._credit_records(changed)
        changed.clear()
        lots.sort(key=lambda x: (x.issued_at, x.instrument, x.first))
        return PublicView(position=head, lots=tuple(lots),
                          retirements=tuple(self._followed.retirements),
                          credit_records=records, totals=totals)

    def _part(self, code: str) -> _InstrumentPart:
        with self.registry.reading_instrument(code) as instrument:
            units = _units_per_lot(instrument)
            lots = tuple(self._lot(instrument, lot_id, lot, units.get(lot_id, {}))
                         for lot_id, lot in instrument.lots.items())
            totals = {"issued": instrument.issued(), **instrument.totals()}
            retrofits = frozenset(Retrofit.create_id(lot["retrofit_reference"])
                                  for lot in instrument.lots.values())
        return _InstrumentPart(lots=lots, totals=totals, retrofits=retrofits)

    def _lot(self, instrument: Instrument, lot_id: str, lot: dict[str, Any],
             units: dict[str, int]) -> PublicLot:
        with self.registry.reads.current(Retrofit.create_id(lot["retrofit_reference"]),
                                         _missing) as retrofit:
            retrofit_state = retrofit.state
        agencies = {stage: self._party("agency", code)
                    for stage, code in sorted(lot["agencies"].items(), key=_stage_order)}
        return PublicLot(
            instrument=instrument.code, kind=instrument.kind, vintage=instrument.vintage,
            zone=instrument.zone, term=instrument.term.view(), lot=lot_id, first=lot["first"],
            last=lot["last"],
            serials=serial_label(instrument.code, lot["first"], lot["last"]),
            enterprise=self._party("enterprise", lot["owner"]),
            retrofit=lot["retrofit_reference"], retrofit_state=retrofit_state,
            agencies=agencies, issued_at=lot["issued_at"], expires_on=lot["expires_on"],
            revoked=bool(lot["revoked"]), units=units)

    def _credit_records(self, changed: set[UUID]) -> tuple[CreditRecord, ...]:
        """Every party with a credit change, latest first; a party is read again only when
        it has a new event."""
        for role, aggregate_id in self._followed.credit_parties:
            if aggregate_id in self._records and aggregate_id not in changed:
                continue
            party = self.registry.repository.get(aggregate_id)
            self._records[aggregate_id] = CreditRecord(
                role=role, party=Party(party.credit_code, party.name), standing=party.standing,
                changes=tuple(CreditChange(change=c["change"], reason=c["reason"],
                                           reference=c["reference"], at=c["at"])
                              for c in party.credit_record))
        return tuple(sorted(self._records.values(), key=lambda r: r.latest, reverse=True))

    def _party(self, role: str, code: str) -> Party:
        name = self._names.get((role, code))
        if name is None:
            party = (self.registry.enterprise(code) if role == "enterprise"
                     else self.registry.agency(code))
            name = self._names[(role, code)] = party.name
        return Party(code, name)


def _missing() -> Any:
    raise NotFound("a lot names a retrofit the store does not hold")


def _units_per_lot(instrument: Instrument) -> dict[str, dict[str, int]]:
    """lot id -> unit state -> units, with ``frozen`` counted besides their state."""
    out: dict[str, dict[str, int]] = {}
    for b in instrument.block_records():
        per = out.setdefault(b.lot, {})
        n = b.quantity
        per[b.state] = per.get(b.state, 0) + n
        if b.frozen:
            per["frozen"] = per.get("frozen", 0) + n
    return out


def _stage_order(item: tuple[str, str]) -> int:
    stage = item[0]
    return STAGES.index(stage) if stage in STAGES else len(STAGES)


"""The registry application: get → call → save, atomically, with bounded retry on conflicts.

Every command loads the aggregates it needs, calls the pure domain, and saves every changed
aggregate in ONE ``save`` (one transaction). A concurrent writer makes the save fail with
``IntegrityError`` and nothing is stored; the whole command is then re-run on fresh copies, at
most ``MAX_ATTEMPTS`` times.
"""

from __future__ import annotations

import functools
import random
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, PersistenceError, Transcoder

from domain.agency import Agency
from domain.catalogue import Catalogue
from domain.enterprise import Enterprise
from domain.errors import AlreadyExists, ConcurrencyConflict, InvalidInput, NotFound
from domain.expansion import ExpansionApplication
from domain.instrument import Instrument
from domain.retrofit import Retrofit
from domain.rules import CURRENT_RULES, TradingRules, rules
from registry.projection import ProjectingRepository
from registry.read_cache import ReadCache
from registry.snapshots import take_due_snapshots
from registry.storage import record_checked, take_snapshots_safely, unavailable
from registry.transcoder import OrjsonTranscoder

MAX_ATTEMPTS = 10
BACKOFF_SECONDS = 0.002
P = ParamSpec("P")
R = TypeVar("R")


def command(fn: Callable[P, R]) -> Callable[P, R]:
    """Re-run the whole command on a version conflict; give up with a typed error."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        for attempt in range(MAX_ATTEMPTS):
            try:
                return fn(*args, **kwargs)
            except IntegrityError:
                # jittered exponential back-off, so that contending writers spread out
                time.sleep(random.uniform(0, BACKOFF_SECONDS * 2**attempt))  # noqa: S311
            except PersistenceError as exc:  # loading failed: nothing was written
                down = unavailable(exc)
                if down is None:
                    raise
                raise down from exc
        raise ConcurrencyConflict(f"{fn.__name__} kept conflicting with concurrent writes")

    return wrapper


def instrument_id(code: str) -> UUID:
    """The aggregate id of instrument ``code`` (KIND-VINTAGE-ZONE); InvalidInput otherwise."""
    try:
        kind, vintage, zone = code.split("-", 2)
        year = int(vintage)
    except ValueError:
        raise InvalidInput(f"an instrument code reads KIND-VINTAGE-ZONE, got {code!r}") from None
    return Instrument.create_id(kind, year, zone)


def validity_end(vintage: int, years: int = 5) -> str:
    """Units stay valid for five years after their vintage year."""
    return f"{vintage + years}-12-31"


class RegistryBase(Application):
    """Loading helpers and the commands on enterprises, agencies and rules."""

    name = "Registry"
    # both grow with the registry; an instrument snapshot is cheap to take (~0.1 ms from the
    # saved aggregate, `registry.snapshots`) and every holdings read rebuilds each instrument
    snapshotting_intervals = {Instrument: 50, Catalogue: 100}

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        super().__init__(env=env)
        self.reads = ReadCache(self.repository)  # current copies for reads (registry.read_cache)

    def construct_transcoder(self) -> Transcoder:
        """The library's JSON format, encoded with orjson (`registry.transcoder`)."""
        transcoder = OrjsonTranscoder()
        self.register_transcodings(transcoder)
        return transcoder

    def construct_repository(self) -> ProjectingRepository:
        """The library's repository as configured, rebuilding without its per-event assert
        (`registry.projection`)."""
        repository = super().construct_repository()
        repository.__class__ = ProjectingRepository  # the same state; one default differs
        return repository  # type: ignore[return-value]

    def _record(self, processing_event: ProcessingEvent[Any]) -> Any:
        """The library's recording, refusing a version gap and resolving an in-doubt commit
        against the store (`registry.storage`)."""
        return record_checked(self, processing_event, super()._record)

    def _take_snapshots(self, processing_event: ProcessingEvent[Any]) -> None:
        """Due snapshots from the saved aggregates, in one write (`registry.snapshots`); a
        snapshot that cannot be written never fails the save it follows."""
        take_snapshots_safely(lambda: take_due_snapshots(self, processing_event))

    # -- loading -------------------------------------------------------------------------------

    def _get(self, cls: type[Aggregate], aggregate_id: UUID, what: str) -> Any:
        try:
            agg = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            raise NotFound(f"{what} not found") from None
        if not isinstance(agg, cls):
            raise NotFound(f"{what} not found")
        return agg

    def enterprise(self, credit_code: str) -> Enterprise:
        e: Enterprise = self._get(Enterprise, Enterprise.create_id(credit_code),
                                  f"enterprise {credit_code}")
        return e

    def agency(self, credit_code: str) -> Agency:
        a: Agency = self._get(Agency, Agency.create_id(credit_code), f"agency {credit_code}")
        return a

    def retrofit(self, reference: str) -> Retrofit:
        r: Retrofit = self._get(Retrofit, Retrofit.create_id(reference), f"retrofit {reference}")
        return r

    def expansion(self, reference: str) -> ExpansionApplication:
        x: ExpansionApplication = self._get(
            ExpansionApplication, ExpansionApplication.create_id(reference),
            f"expansion application {reference}",
        )
        return x

    def instrument(self, code: str) -> Instrument:
        i: Instrument = self._get(Instrument, instrument_id(code), f"instrument {code}")
        return i

    @contextmanager
    def reading_instrument(self, code: str) -> Iterator[Instrument]:
        """The current instrument, to read (never change) inside the block; shared with other
        readers and brought up to date from the store first (`registry.read_cache`)."""
        def missing() -> Instrument:
            raise NotFound(f"instrument {code} not found")

        with self.reads.current(instrument_id(code), missing) as i:
            if not isinstance(i, Instrument):
                missing()
            yield i

    @contextmanager
    def reading_catalogue(self) -> Iterator[Catalogue]:
        """The current catalogue, to read inside the block (see `reading_instrument`)."""
        with self.reads.current(Catalogue.create_id(), Catalogue) as c:
            yield c

    def catalogue(self) -> Catalogue:
        try:
            c: Catalogue = self.repository.get(Catalogue.create_id())
        except AggregateNotFoundError:
            c = Catalogue()
        return c

    def current_rules(self) -> TradingRules:
        return rules(self.catalogue().rules_version or CURRENT_RULES)

    def _exists(self, aggregate_id: UUID) -> bool:
        try:
            self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return False
        return True

    def _create(self, section: str, key: str, aggregate: Aggregate, *others: Aggregate) -> None:
        if self._exists(aggregate.id):
            raise AlreadyExists(f"{section[:-1]} {key} already exists")
        catalogue = self.catalogue()
        catalogue.add(section=section, key=key)
        self.save(aggregate, catalogue, *others)

    # -- enterprises and agencies --------------------------------------------------------------

    @command
    def register_enterprise(
        self, *, credit_code: str, name: str, sector: str, prefecture: str, basin: str,
        direct_discharger: bool, at: str,
    ) -> Enterprise:
        e = Enterprise.register(
            credit_code=credit_code, name=name, sector=sector, prefecture=prefecture,
            basin=basin, direct_discharger=direct_discharger, at=at,
        )
        self._create("enterprises", credit_code, e)
        return e

    @command
    def set_obligation(
        self, *, credit_code: str, kind: str, period: int, target: int, at: str
    ) -> None:
        e = self.enterprise(credit_code)
        e.set_obligation(kind=kind, period=period, target=target, at=at)
        self.save(e)

    @command
    def restrict_enterprise(self, *, credit_code: str, reason: str, reference: str,
                            at: str) -> None:
        e = self.enterprise(credit_code)
        e.restrict(reason=reason, reference=reference, at=at)
        self.save(e)

    @command
    def restore_enterprise(self, *, credit_code: str, reason: str, reference: str,
                           at: str) -> None:
        e = self.enterprise(credit_code)
        e.restore(reason=reason, reference=reference, at=at)
        self.save(e)

    @command
    def register_agency(self, *, credit_code: str, name: str, at: str) -> Agency:
        a = Agency.register(credit_code=credit_code, name=name, at=at)
        self._create("agencies", credit_code, a)
        return a

    @command
    def accredit_agency(self, *, credit_code: str, accreditation: str, at: str) -> None:
        a = self.agency(credit_code)
        a.accredit(accreditation=accreditation, at=at)
        self.save(a)

    @command
    def restrict_agency(self, *, credit_code: str, reason: str, reference: str, at: str) -> None:
        a = self.agency(credit_code)
        a.restrict(reason=reason, reference=reference, at=at)
        self.save(a)

    @command
    def adopt_rules(self, *, version: str, administrator: str, at: str) -> None:
        rules(version)
        catalogue = self.catalogue()
        catalogue.adopt_rules(version=version, administrator=administrator, at=at)
        self.save(catalogue)

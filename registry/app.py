"""The registry application: get → call → save, atomically, with bounded retry on conflicts.

Every command loads the aggregates it needs, calls the pure domain, and saves every changed
aggregate in ONE ``save`` (one transaction). A concurrent writer makes the save fail with
``IntegrityError`` and nothing is stored; the whole command is then re-run on fresh copies, at
most ``MAX_ATTEMPTS`` times.
"""

from __future__ import annotations

import functools
import inspect
import random
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar
from uuid import UUID

from eventsourcing.application import (
    AggregateNotFoundError,
    Application,
    ProcessingEvent,
    Repository,
)
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, PersistenceError, Transcoder

from domain.agency import Agency
from domain.catalogue import Catalogue
from domain.confirmed_right import ConfirmedRight
from domain.enterprise import Enterprise
from domain.errors import AlreadyExists, ConcurrencyConflict, InvalidInput, NotFound
from domain.exchange.cash import CashAccount
from domain.expansion import ExpansionApplication
from domain.instrument import Instrument
from domain.retrofit import Retrofit
from domain.rules import FIRST_RULES, RuleBook, TradingRules
from registry.acting import acting, companions, saved, stamp
from registry.annual_reports import AnnualReports
from registry.pending import PEOPLE, States
from registry.read_cache import ReadCache
from registry.rulebook import CURRENT_RULES, builtin_rulebook
from registry.speedups import Speedups
from registry.storage import record_checked, take_snapshots_safely, unavailable

MAX_ATTEMPTS = 10
BACKOFF_SECONDS = 0.002
P = ParamSpec("P")
R = TypeVar("R")


def command(fn: Callable[P, R]) -> Callable[P, R]:
    """Re-run the whole command on a version conflict; give up with a typed error.

    Every command also takes ``actor=`` and ``approved_by=`` keywords: the events it saves
    name them (`registry.acting`); without them the caller's acting context applies."""

    declared = set(inspect.signature(fn).parameters)  # a command may take them itself

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        actor = kwargs.pop("actor", None) if "actor" not in declared else None
        approved_by = (kwargs.get("approved_by") if "approved_by" in declared
                       else kwargs.pop("approved_by", None))
        if actor is None and approved_by is None:
            return _retrying(fn, *args, **kwargs)
        with acting(actor, approved_by):  # type: ignore[arg-type]
            return _retrying(fn, *args, **kwargs)

    return wrapper


def _retrying(fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
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


def instrument_id(code: str) -> UUID:
    """The aggregate id of instrument ``code`` (KIND-VINTAGE-ZONE); InvalidInput otherwise."""
    try:
        kind, vintage, zone = code.split("-", 2)
        year = int(vintage)
    except ValueError:
        raise InvalidInput(f"an instrument code reads KIND-VINTAGE-ZONE, got {code!r}") from None
    return Instrument.create_id(kind, year, zone)


class RegistryBase(Application):
    """The registry's core: the event store, loading (`load`, the read copies), ``save``,
    the rule book, and the commands on enterprises, agencies and rules. The areas'
    services (`registry.bootstrap.Registry`) are given it."""

    name = "Registry"
    # instruments and the catalogue grow with the registry; an instrument snapshot is cheap to
    # take (~0.1 ms from the saved aggregate, `registry.snapshots`) and every holdings read
    # rebuilds each instrument; a confirmed right changes with every batch its enterprise
    # trades in, as its cash does
    snapshotting_intervals = {Instrument: 50, Catalogue: 100, CashAccount: 100,
                              ConfirmedRight: 100}

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        self.speedups = Speedups.configured(self, env)
        super().__init__(env=env)
        self.reads = ReadCache(self.repository)  # current copies for reads (registry.read_cache)
        self.annual_reports = AnnualReports()  # report totals kept from the log
        self.states = States()  # proposals', retrofits' and applications' states, from the log
        self.people = States(PEOPLE)  # current users, enterprises and agencies, from the log

    def construct_transcoder(self) -> Transcoder:
        """The library's JSON format, encoded with orjson (`registry.speedups`)."""
        transcoder = self.speedups.transcoder()
        self.register_transcodings(transcoder)
        return transcoder

    def construct_repository(self) -> Repository[Any]:
        """The library's repository as configured, rebuilding without its per-event assert
        (`registry.speedups`)."""
        return self.speedups.repository(super().construct_repository())

    def save(self, *objs: Any, **kwargs: Any) -> Any:
        """Save as the library does, in one transaction, after naming the actor (and the
        approver) in every new event and adding the acting context's companions (an
        approval saved with the act it approves; `registry.acting`)."""
        objs = (*objs, *companions())
        stamp([e for o in objs if o is not None
               for e in getattr(o, "pending_events", ())])
        recordings = self.speedups.save(self, objs, kwargs, super().save)
        saved()
        return recordings

    def _record(self, processing_event: ProcessingEvent[Any]) -> Any:
        """The library's recording, refusing a version gap and resolving an in-doubt commit
        against the store (`registry.storage`)."""
        return record_checked(self, processing_event, super()._record)

    def _take_snapshots(self, processing_event: ProcessingEvent[Any]) -> None:
        """Due snapshots from the saved aggregates, in one write (`registry.snapshots`); a
        snapshot that cannot be written never fails the save it follows."""
        plain = super()._take_snapshots  # the library's, with the speed-up switched off
        take_snapshots_safely(
            lambda: self.speedups.take_snapshots(self, processing_event, plain))

    # -- loading -------------------------------------------------------------------------------

    def load(self, cls: type[Aggregate], aggregate_id: UUID, what: str) -> Any:
        try:
            agg = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            raise NotFound(f"{what} not found") from None
        if not isinstance(agg, cls):
            raise NotFound(f"{what} not found")
        return agg

    def enterprise(self, credit_code: str) -> Enterprise:
        e: Enterprise = self.load(Enterprise, Enterprise.create_id(credit_code),
                                  f"enterprise {credit_code}")
        return e

    def agency(self, credit_code: str) -> Agency:
        a: Agency = self.load(Agency, Agency.create_id(credit_code), f"agency {credit_code}")
        return a

    def retrofit(self, reference: str) -> Retrofit:
        r: Retrofit = self.load(Retrofit, Retrofit.create_id(reference), f"retrofit {reference}")
        return r

    def expansion(self, reference: str) -> ExpansionApplication:
        x: ExpansionApplication = self.load(
            ExpansionApplication, ExpansionApplication.create_id(reference),
            f"expansion application {reference}",
        )
        return x

    def instrument(self, code: str) -> Instrument:
        i: Instrument = self.load(Instrument, instrument_id(code), f"instrument {code}")
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

    def rulebook(self, catalogue: Catalogue | None = None) -> RuleBook:
        """Every rule version: the shipped files and those defined by event."""
        c = self.catalogue() if catalogue is None else catalogue
        defined = {v: TradingRules.from_dict(d) for v, d in c.defined_rules().items()}
        return builtin_rulebook().with_versions(defined)

    def current_rules(self, at: str, catalogue: Catalogue | None = None) -> TradingRules:
        """The version in force on the day of ``at`` (issuance, new instruments)."""
        c = self.catalogue() if catalogue is None else catalogue
        return self.rulebook(c).get(c.rules_in_force(at[:10]) or CURRENT_RULES)

    def rules_for(self, instrument: Instrument, catalogue: Catalogue | None = None,
                  ) -> TradingRules:
        """The version an instrument's transfers are checked against (its own)."""
        return self.rulebook(catalogue).get(instrument.rules_version(FIRST_RULES))

    def exists(self, aggregate_id: UUID) -> bool:
        try:
            self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return False
        return True

    def create(self, section: str, key: str, aggregate: Aggregate, *others: Aggregate) -> None:
        if self.exists(aggregate.id):
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
        self.create("enterprises", credit_code, e)
        return e

    @command
    def set_obligation(
        self, *, credit_code: str, kind: str, period: int, target: int, at: str,
        reason: str = "", actor: str = "",
    ) -> None:
        """Set or change an enterprise's task (`Enterprise.set_obligation`: a change needs a
        reason and never un-meets a met task or clears a clawback debt)."""
        e = self.enterprise(credit_code)
        e.set_obligation(kind=kind, period=period, target=target, at=at, reason=reason,
                         administrator=actor)
        self.save(e)

    @command
    def restore_enterprise(self, *, credit_code: str, reason: str, reference: str,
                           at: str) -> None:
        e = self.enterprise(credit_code)
        e.restore(reason=reason, reference=reference, at=at)
        self.save(e)

    @command
    def register_agency(self, *, credit_code: str, name: str, at: str,
                        controlled_by: str | None = None) -> Agency:
        a = Agency.register(credit_code=credit_code, name=name, at=at,
                            controlled_by=controlled_by)
        self.create("agencies", credit_code, a)
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
    def restore_agency(self, *, credit_code: str, reason: str, reference: str,
                       at: str) -> None:
        a = self.agency(credit_code)
        a.restore(reason=reason, reference=reference, at=at)
        self.save(a)

    @command
    def withdraw_accreditation(self, *, credit_code: str, reason: str, at: str) -> None:
        a = self.agency(credit_code)
        a.withdraw_accreditation(reason=reason, at=at)
        self.save(a)

    @command
    def adopt_rules(self, *, version: str, administrator: str, at: str,
                    effective_from: str | None = None) -> None:
        """Put a known rule version in force from ``effective_from`` (default: today)."""
        catalogue = self.catalogue()
        self.rulebook(catalogue).get(version)
        catalogue.adopt_rules(version=version, effective_from=effective_from or at[:10],
                              administrator=administrator, at=at)
        self.save(catalogue)

    @command
    def define_rules(self, *, data: dict[str, Any], administrator: str, at: str) -> str:
        """Record a new rule version as data (`domain.rules.TradingRules.from_dict`); it is
        adopted separately, from a stated date. Returns the version."""
        new = TradingRules.from_dict(data)
        catalogue = self.catalogue()
        if new.version in self.rulebook(catalogue).versions():  # a version never changes
            raise AlreadyExists(f"rule version {new.version} is already defined")
        catalogue.define_rules(data=new.to_dict(), administrator=administrator, at=at)
        self.save(catalogue)
        return new.version

    @command
    def move_instrument_rules(self, *, instrument: str, version: str, reason: str,
                              administrator: str, at: str) -> None:
        """Move an instrument to another rule version: a documented event on it."""
        i = self.instrument(instrument)
        self.rulebook().get(version)
        if not administrator.strip():
            raise InvalidInput("moving an instrument's rules needs the administrator's id")
        i.assign_rules(version=version, reason=reason, by=administrator, at=at)
        self.save(i)

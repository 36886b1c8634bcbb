"""Every write to the exchange's aggregates, from any area: under the exchange's lock
(`registry.book_lock.exchange_lock`: one market write at a time, in this process and across
processes), on the exchange's writer (`registry.exchange_writer`, cached aggregates of every
market), re-run on fresh copies after a conflict. The exchange, its trading modes, its
sessions, the lifecycle rule, and the retrofit, holding and sampling commands that end what
depends on the units they change all write through it.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import Any

from eventsourcing.persistence import IntegrityError

from domain.catalogue import Catalogue
from domain.enterprise import Enterprise
from domain.errors import ConcurrencyConflict, NotFound, RegistryError
from domain.exchange.cash import CashAccount
from domain.exchange.market import Market
from domain.instrument import Instrument
from domain.rules import TradingRules
from registry.app import BACKOFF_SECONDS, MAX_ATTEMPTS, RegistryBase, instrument_id
from registry.book_lock import advisory_book_locks, exchange_lock
from registry.exchange_writer import ExchangeWriter
from registry.storage import unavailable


class ExchangeWrites:
    """The exchange's writer and its lock, owned here, and the loading of aggregates through
    the writer."""

    def __init__(self, core: RegistryBase) -> None:
        self.core = core
        #: one market write at a time in this process (`registry.book_lock.exchange_lock`)
        self.exchange_guard = threading.RLock()
        #: the order books' cross-process locks: advisory locks on PostgreSQL, lock files beside
        #: a SQLite file (`registry.book_lock.advisory_book_locks`); None for the memory store
        self.book_locks = advisory_book_locks(core.env)
        #: the exchange's write cache, made on the first market write
        self.exchange_writer: ExchangeWriter | None = None

    def close(self) -> None:
        if self.book_locks is not None:
            self.book_locks.close()

    def writer(self) -> ExchangeWriter:
        with self.exchange_guard:  # made once, however many threads ask first
            if self.exchange_writer is None:
                self.exchange_writer = ExchangeWriter(self.core)
            return self.exchange_writer

    def with_writer(self, what: str, fn: Callable[[ExchangeWriter], Any]) -> Any:
        """Run ``fn`` on the writer under the exchange's lock; re-run it on fresh copies after a
        conflict."""
        w = self.writer()
        # one market write at a time, across processes too (`exchange_lock`: batches of
        # different books write the same cash accounts); the collector pauses once we write
        with exchange_lock(self), self.core.speedups.batch_gc():
            for attempt in range(MAX_ATTEMPTS):
                try:
                    w.sync()
                    return fn(w)
                except IntegrityError:
                    w.drop_all()
                    time.sleep(random.uniform(0, BACKOFF_SECONDS * 2**attempt))  # noqa: S311
                except RegistryError:
                    # a domain refusal, raised before the save: only what it changed in
                    # memory goes (a Market reload re-matches its whole history)
                    w.drop_dirty()
                    raise
                except BaseException as exc:
                    # the save (or anything after matching) failed: the library took the
                    # pending events off the copies before recording them, so no copy the
                    # batch touched can be told from a stored one; start over from the store
                    w.drop_all()
                    down = unavailable(exc)  # the store failed while loading: nothing stored
                    if down is None:
                        raise
                    raise down from exc
        raise ConcurrencyConflict(f"{what} kept conflicting with concurrent writes")

    def market_in(self, w: ExchangeWriter, instrument: str) -> Market:
        m: Market = w.get(Market.create_id(instrument), f"market {instrument}")
        return m

    def instrument_in(self, w: ExchangeWriter, code: str) -> Instrument:
        i: Instrument = w.get(instrument_id(code), f"instrument {code}")
        return i

    def account_in(self, w: ExchangeWriter, owner: str, at: str | None = None) -> CashAccount:
        try:
            a: CashAccount = w.get(CashAccount.create_id(owner), f"cash account of {owner}")
        except NotFound:
            if at is None:
                raise
            a = CashAccount.open(owner=owner, at=at)
            w.put(a)
        return a

    def trader_in(self, w: ExchangeWriter, code: str) -> Enterprise:
        e: Enterprise = w.get(Enterprise.create_id(code), f"enterprise {code}")
        return e

    def catalogue_in(self, w: ExchangeWriter) -> Catalogue:
        try:
            c: Catalogue = w.get(Catalogue.create_id(), "catalogue")
        except NotFound:
            c = Catalogue()
        return c

    def rules_in(self, w: ExchangeWriter, instrument: Instrument) -> TradingRules:
        """The instrument's own rule version (`registry.rulebook`)."""
        return self.core.rules_for(instrument, self.catalogue_in(w))

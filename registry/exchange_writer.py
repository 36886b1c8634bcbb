"""The exchange's writer in this process: the aggregates its batches write (every market's),
kept between batches so a batch does not reload (or re-match) anything that has not changed.
One writer serves every market: a cycle of the order gateway matches the batches of several
markets, which post to the same cash accounts, in one save (`ExchangeService.
submit_order_batches`), and what one market's batch wrote is what the next one reads. Its
users hold the exchange's lock (`registry.book_lock.exchange_lock`) while they use it.

Why this is safe: before each batch the writer reads the event log from where it last looked
and brings every cached aggregate that someone else has changed since up to date (one small
query): the next event of a cached copy is applied to it, as a reload from the store would
apply it; a copy whose events arrive with a gap is evicted. Other writers (other API workers,
and this process's own commands outside the exchange) post to the same cash accounts and
instruments, so evicting would mean reloading them, and a `Market`, which has no snapshot,
re-matches its whole history on reload. What a batch writes was either just brought up to date
that way or conflicts on save (``IntegrityError``); on a conflict everything is dropped and the
batch re-runs on fresh copies. After a domain refusal (raised before anything is saved) the
aggregates changed in memory are dropped; after any other failure, the save's included, the
whole cache is, since eventsourcing's ``save`` takes the pending events off the copies before
it records them and a copy whose events were not stored looks like a stored one
(`registry.storage` also refuses any save whose versions would not follow the stored ones).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application

from domain.errors import NotFound
from domain.exchange.desk import PairChecks
from domain.exchange.market import KeptDrafts
from domain.rules import TradingRules
from registry.exchange_positions import PositionCache
from registry.log_reader import LogReader

#: more foreign events than this since the last batch: drop the whole cache instead
SYNC_LIMIT = 500


class ExchangeWriter:
    def __init__(self, app: Application[Any]) -> None:
        self.app = app
        self.cache: dict[Any, Any] = {}
        self.log = LogReader(app, page=SYNC_LIMIT)
        self.log.skip_to_head()
        self._positions: dict[str, PositionCache] = {}
        self._checks: dict[tuple[str, str, str], PairChecks] = {}
        #: the draft each cached market's last batch decided on (speed-up ``kept_draft``)
        self.drafts = KeptDrafts()

    def positions(self, instrument: str) -> PositionCache:
        """The seller positions carried between batches of ``instrument``'s market."""
        cache = self._positions.get(instrument)
        if cache is None:
            cache = self._positions[instrument] = PositionCache()
        return cache

    def pair_checks(self, *, kind: str, zone: str, rules: TradingRules) -> PairChecks:
        """The memo of party checks of one kind and zone under ``rules`` (kept: it never goes
        stale)."""
        key = (rules.version, kind, zone)
        checks = self._checks.get(key)
        if checks is None:
            checks = self._checks[key] = PairChecks(kind=kind, zone=zone, rules=rules)
        return checks

    def sync(self) -> None:
        """Bring the cache up to what other writers stored since we last looked.

        A cached aggregate's next event is applied to the cached copy, exactly as a reload
        would apply it after the copy's version (so a `Market` re-matches one batch, not its
        whole history); an aggregate whose events arrive with a gap, or whose event fails to
        apply, is evicted and reloaded when next needed. Events at or below a copy's version
        are its own, already applied.
        """
        found = self.log.next_page()
        if len(found) == SYNC_LIMIT:
            self.cache.clear()
            self.drafts.clear()
            self.log.skip_to_head()
            return
        for n in found:
            cached = self.cache.get(n.originator_id)
            if cached is None or cached.version >= n.originator_version:
                continue
            if cached.version + 1 != n.originator_version or not self._apply(cached, n):
                del self.cache[n.originator_id]

    def _apply(self, cached: Any, stored: Any) -> bool:
        """Apply one stored event to a cached copy; False if it could not be applied (the
        copy may then be half-changed and must go)."""
        try:
            self.log.decode(stored).mutate(cached)
        except Exception:  # any failure: reload from the store instead
            return False
        return True

    def get(self, aggregate_id: UUID, what: str) -> Any:
        agg = self.cache.get(aggregate_id)
        if agg is None:
            try:
                agg = self.app.repository.get(aggregate_id)
            except AggregateNotFoundError:
                raise NotFound(f"{what} not found") from None
            self.cache[aggregate_id] = agg
        return agg

    def put(self, aggregate: Any) -> None:
        self.cache[aggregate.id] = aggregate

    def drop_all(self) -> None:
        """Forget every cached aggregate and position: the next batch reloads from the store."""
        self.cache.clear()
        self._positions.clear()
        self.drafts.clear()

    def drop_dirty(self) -> None:
        """After a refused command (nothing saved): forget aggregates changed in memory."""
        self._positions.clear()
        for key, agg in list(self.cache.items()):
            if agg.pending_events:  # a market's book changes only with its event: never
                del self.cache[key]  # otherwise half-changed

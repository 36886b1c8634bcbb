"""Exchange commands: cash, markets, orders (group commit), settlement and verification.

Every market write goes through the exchange's `ExchangeWriter` (cached aggregates of every
market) under the exchange's lock (`registry.book_lock.exchange_lock`: one market write at a
time, in this process and across processes), both held by `registry.exchange_writes`.
`submit_order_batches` is the group commit: the batches of orders and cancels of several
markets become ONE save holding, per market, one ``Market.BatchMatched`` and one
``Instrument.BatchSettled``, and one ``CashAccount.Posted`` per market for each enterprise its
batch touched. An order is acknowledged (its `Outcome`
returned) only after that save. The markets' batches are matched one after the other in
instrument order, each on what the previous ones posted; a market whose batch cannot run at
all (no such market) gets its error, and the others are still stored.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple, Protocol

from domain.errors import AlreadyExists, NotFound, RegistryError
from domain.exchange.cash import CashAccount
from domain.exchange.desk import Desk
from domain.exchange.market import Market, pool_ref
from domain.exchange.orders import (
    Amend,
    Cancel,
    Order,
    Outcome,
    Request,
    at_position,
    raise_refusal,
)
from domain.exchange.params import MarketParams
from domain.instrument import Instrument
from domain.matching import OrderBook
from registry.app import RegistryBase, command
from registry.exchange_writer import ExchangeWriter
from registry.exchange_writes import ExchangeWrites
from registry.lifecycle import Changes, LifecycleService
from registry.receipts import BATCH_TOPIC
from registry.rights import RightsService
from registry.sessions import SessionService

log = logging.getLogger(__name__)


class Elsewhere(Protocol):
    """Another process that writes the exchange (`registry.order_process.OrderProcess`).

    The verification queue's decisions write the markets and instruments the order batches
    write. A copy kept in this process would have to re-apply every batch the other process
    stored before each decision (a `Market` re-matches them) while holding the exchange's
    lock, which every batch waits for; so they are written where the batches are. ``here``
    writes the command in this process when the other cannot take it."""

    def command(self, name: str, kwargs: dict[str, Any], *,
                here: Callable[..., None]) -> None: ...


class ExchangeService:
    """Cash, markets, orders (group commit), settlement and verification."""

    def __init__(self, core: RegistryBase, *, exchange_writes: ExchangeWrites,
                 rights: RightsService, sessions: SessionService,
                 lifecycle: LifecycleService) -> None:
        self.core = core
        self.exchange_writes = exchange_writes
        self.rights = rights
        self.sessions = sessions
        self.lifecycle = lifecycle
        #: the process that writes the exchange's busiest aggregates when it is not this one
        #: (`registry.order_process`, set by the composition root); None: they are written here
        self.elsewhere: Elsewhere | None = None

    # -- plumbing ------------------------------------------------------------------------------

    def _rights_in(self, w: ExchangeWriter, i: Instrument, transfers: list[list[Any]],
                   ref: str, at: str) -> list[Any]:
        """Both parties' confirmed rights amended by what settled (`registry.rights`), one
        change per enterprise, from the writer's copies."""
        return self.rights.rights_for_settlement(
            kind=i.kind, transfers=transfers, ref=ref, at=at,
            catalogue=self.exchange_writes.catalogue_in(w), get=w.get)

    def _desk(self, w: ExchangeWriter, market: Market, instrument: Instrument, at: str) -> Desk:
        rules_ = self.exchange_writes.rules_in(w, instrument)
        return Desk(
            kind=market.kind, zone=market.zone, rules=rules_,
            traders=lambda c: self.exchange_writes.trader_in(w, c),
            accounts=lambda c: self.exchange_writes.account_in(w, c),
            positions=w.positions(market.instrument).reader(
                instrument, pool=pool_ref(market.instrument), on=at[:10]),
            checks=w.pair_checks(kind=market.kind, zone=market.zone, rules=rules_),
        )

    # -- cash ----------------------------------------------------------------------------------

    def cash_account(self, enterprise: str) -> CashAccount:
        a: CashAccount = self.core.load(CashAccount, CashAccount.create_id(enterprise),
                                        f"cash account of {enterprise}")
        return a

    @command
    def deposit(self, *, enterprise: str, amount: int, reference: str, administrator: str,
                at: str) -> int:
        """Record a deposit; returns the new balance (fen)."""
        self.core.enterprise(enterprise)
        try:
            a = self.cash_account(enterprise)
        except NotFound:
            a = CashAccount.open(owner=enterprise, at=at)
        a.deposit(amount=amount, reference=reference, administrator=administrator, at=at)
        self.core.save(a)
        return int(a.balance)

    @command
    def withdraw(self, *, enterprise: str, amount: int, reference: str, administrator: str,
                 at: str) -> int:
        a = self.cash_account(enterprise)
        a.withdraw(amount=amount, reference=reference, administrator=administrator, at=at)
        self.core.save(a)
        return int(a.balance)

    # -- markets -------------------------------------------------------------------------------

    @command
    def open_market(self, *, instrument: str, administrator: str, at: str,
                    **params: Any) -> Market:
        """Open the order book of an instrument. ``params``: see `MarketParams`."""
        i = self.core.instrument(instrument)
        if self.core.exists(Market.create_id(i.code)):
            raise AlreadyExists(f"market {i.code} is already open")
        m = Market.open(instrument=i.code, kind=i.kind, zone=i.zone,
                        params=MarketParams(**params), administrator=administrator, at=at)
        self.core.save(m)
        return m

    def set_market_parameters(self, *, instrument: str, administrator: str, at: str,
                              reference_price: int | None = None,
                              verify_above: int | str | None = "keep") -> None:
        def run(w: ExchangeWriter) -> None:
            m = self.exchange_writes.market_in(w, instrument)
            m.set_parameters(reference_price=reference_price, verify_above=verify_above,
                             administrator=administrator, at=at)
            changes = Changes()
            changes.add(m)
            # a new band: resting orders outside it go, so no fill ever lies outside it
            self.sessions.cancel_resting(m, self.exchange_writes.instrument_in(w, instrument),
                                         m.outside_band(), changes,
                                         reason="outside the new price band",
                                         by=administrator, at=at)
            self.lifecycle.save_changes(w, changes, ref=f"parameters:{instrument}", at=at)

        self.exchange_writes.with_writer(f"market {instrument}", run)

    def warm_exchange(self) -> int:
        """Load every open market and its instrument into the exchange writer; returns how
        many. Called before a service answers: otherwise the first batch after a start rebuilds
        each market by re-matching its whole history while every other order waits."""
        opened: list[str] = []

        def run(w: ExchangeWriter) -> None:
            opened.clear()  # a re-run after a conflict starts over
            for code in self.core.catalogue().entries["instruments"]:
                try:
                    self.exchange_writes.market_in(w, code)
                except NotFound:
                    continue  # issued, but no market opened for it
                self.exchange_writes.instrument_in(w, code)
                opened.append(code)

        self.exchange_writes.with_writer("the exchange's warm-up", run)
        return len(opened)

    def market(self, instrument: str) -> Market:
        """The market as stored (a fresh copy, rebuilt from its events: every batch is matched
        again, so the collector is paused as for a batch, which halves the rebuild)."""
        with self.core.speedups.batch_gc():
            m: Market = self.core.load(Market, Market.create_id(instrument), f"market {instrument}")
        return m

    def book(self, instrument: str) -> OrderBook:
        return self.market(instrument).book

    # -- orders --------------------------------------------------------------------------------

    def submit_orders(self, *, instrument: str, requests: Sequence[Request],
                      at: str) -> list[Outcome]:
        """Group commit of one market: match a batch of orders and cancels and store it in one
        save; each request gets an `Outcome` (refused requests wrote nothing)."""
        result = self.submit_order_batches(batches={instrument: requests}, at=at)[instrument]
        if isinstance(result, BaseException):
            raise result
        return result

    def submit_order_batches(self, *, batches: Mapping[str, Sequence[Request]],
                             at: str) -> dict[str, list[Outcome] | RegistryError]:
        """Group commit across markets: match each market's batch, in instrument order, and
        store them all in ONE save. Each market gets an `Outcome` per request, or, when its
        batch cannot run at all (an unknown market), the error; nothing of that market is
        stored, and the other markets' batches are.

        Isolation: a request whose processing fails beyond its own refusal (its postings do
        not apply, or the matching raises) must not fail the others. The cycle is then run
        again on fresh copies with the failing market's batch cut in two, halves run one
        after the other (which is what the whole batch would do); a half that still fails is
        cut again, until the failing request stands alone: it is answered with its error
        (``rejected``) and left out, and everything else is stored in one save."""
        plan: list[tuple[str, list[int]]] = [(code, list(range(len(batches[code]))))
                                             for code in sorted(batches)]
        poisoned: dict[tuple[str, int], Exception] = {}
        what = "orders of " + ", ".join(sorted(batches))
        while True:
            try:
                done: dict[int, list[Outcome] | RegistryError] = self.exchange_writes.with_writer(
                    what, lambda w: self._run_plan(w, plan, batches, at))
                break
            except _PartFailed as failed:
                code, indexes = plan[failed.part]
                if not indexes:  # not any request's doing
                    raise failed.error from None
                if len(indexes) == 1:
                    poisoned[(code, indexes[0])] = failed.error
                    del plan[failed.part]
                else:
                    half = len(indexes) // 2
                    plan[failed.part:failed.part + 1] = [(code, indexes[:half]),
                                                         (code, indexes[half:])]
        return _assemble(batches, plan, done, poisoned)

    def _run_plan(self, w: ExchangeWriter, plan: list[tuple[str, list[int]]],
                  batches: Mapping[str, Sequence[Request]],
                  at: str) -> dict[int, list[Outcome] | RegistryError]:
        """One cycle: each part of the plan (a market's batch, or a piece of it) matched and
        posted in turn, then one save. Raises `_PartFailed` naming the part that failed."""
        results: dict[int, list[Outcome] | RegistryError] = {}
        recorded_by: dict[int, Any] = {}  # part → the BatchMatched event it added
        changed: dict[Any, Any] = {}
        settled: list[tuple[str, Instrument, dict[str, Any]]] = []
        split = {code for code, _ in plan if sum(c == code for c, _ in plan) > 1}
        for part, (instrument, indexes) in enumerate(plan):
            try:  # loading refuses before anything is changed in memory
                m = self.exchange_writes.market_in(w, instrument)
                i = self.exchange_writes.instrument_in(w, instrument)
            except RegistryError as exc:
                results[part] = exc
                continue
            requests = [batches[instrument][k] for k in indexes]
            try:
                desk = self._desk(w, m, i, at)
                pending = len(m.pending_events)  # a piece of a split batch follows another
                results[part] = m.match(requests, desk=desk, at=at, kept=w.drafts
                                         if self.core.speedups.kept_draft else None)
                if not m.pending_events:
                    continue
                if len(m.pending_events) > pending:
                    recorded_by[part] = m.pending_events[-1]
                ref = f"{instrument}#batch{m.batches}"
                posted = []
                for owner, posting in sorted(desk.cash_postings().items()):
                    a = self.exchange_writes.account_in(w, owner, at)
                    a.post(ref=ref, at=at, **posting)
                    posted.append(a)
                postings = desk.unit_postings()
                i.settle_batch(pool=pool_ref(instrument), rule_version=desk.rules.version,
                               ref=ref, at=at, **postings)
                rights = self._rights_in(w, i, postings["transfers"], ref, at)
            except Exception as exc:  # any failure here is this part's alone
                raise _PartFailed(part, exc) from exc
            changed[m.id] = m
            for a in (*posted, *rights):
                changed[a.id] = a
            changed[i.id] = i
            settled.append((instrument, i, postings))
        if changed:
            recordings = self.core.save(*changed.values())
            if recorded_by and not recordings:  # a commit resolved after a failure
                recordings = _stored_recordings(self.core, recorded_by.values())
            _record_positions(results, recorded_by, recordings)
        for instrument, i, postings in settled:
            if instrument in split:  # carried positions follow one batch per save only
                w.positions(instrument).clear()
            else:
                w.positions(instrument).settled(i, on=at[:10], **postings)
        return results

    def submit_order(self, *, instrument: str, order_id: str, account: str, side: str,
                     kind: str, price: int, qty: int, entered_by: str, at: str,
                     tif: str = "DAY") -> Outcome:
        """One order; raises its typed refusal instead of returning it."""
        order = Order(order_id, account, side, kind, price, qty, entered_by, tif)
        return raise_refusal(self.submit_orders(instrument=instrument, requests=[order],
                                                at=at)[0])

    def amend_order(self, *, instrument: str, order_id: str, account: str, qty: int,
                    price: int | None, entered_by: str, at: str) -> Outcome:
        """Amend a resting order (`domain.exchange.orders.Amend`)."""
        amend = Amend(order_id, account, qty, price, entered_by)
        return raise_refusal(self.submit_orders(instrument=instrument, requests=[amend],
                                                at=at)[0])

    def cancel_order(self, *, instrument: str, order_id: str, account: str, entered_by: str,
                     at: str) -> Outcome:
        cancel = Cancel(order_id, account, entered_by)
        return raise_refusal(self.submit_orders(instrument=instrument, requests=[cancel],
                                                at=at)[0])

    # -- verification queue --------------------------------------------------------------------

    def verification_queue(self) -> list[dict[str, Any]]:
        """Every trade waiting for an administrator, over all markets."""
        out: list[dict[str, Any]] = []
        for code in self.core.catalogue().entries["instruments"]:
            if self.core.exists(Market.create_id(code)):
                out += [dict(t, instrument=code) for t in self.market(code).pending.values()]
        return out

    def approve_trade(self, *, instrument: str, trade_id: str, administrator: str,
                      at: str) -> None:
        """Four eyes, then the automated checks again (credit, zone, units); then DvP. Written
        by the order process when there is one (`Elsewhere`)."""
        if self.elsewhere is not None:
            self.elsewhere.command("approve_trade", {
                "instrument": instrument, "trade_id": trade_id, "administrator": administrator,
                "at": at}, here=self._approve_trade)
        else:
            self._approve_trade(instrument=instrument, trade_id=trade_id,
                                administrator=administrator, at=at)

    def _approve_trade(self, *, instrument: str, trade_id: str, administrator: str,
                       at: str) -> None:

        def run(w: ExchangeWriter) -> None:
            m = self.exchange_writes.market_in(w, instrument)
            trade = m.check_approver(trade_id=trade_id, administrator=administrator)
            seller = self.exchange_writes.trader_in(w, trade["seller"])
            buyer = self.exchange_writes.trader_in(w, trade["buyer"])
            i = self.exchange_writes.instrument_in(w, instrument)
            rules_ = self.exchange_writes.rules_in(w, i)
            # Instrument.transfer's checks, on the pool: credit, zone, valid unfrozen units
            seller.check_may_trade()
            buyer.check_may_trade()
            rules_.check_transfer(i.kind, i.zone, seller.party(), buyer.party())
            i.settle_batch(pool=pool_ref(instrument), reserve={}, release={},
                           transfers=[[seller.credit_code, buyer.credit_code, trade["qty"],
                                       trade_id]],
                           rule_version=rules_.version, ref=trade_id, at=at)
            pay = self.exchange_writes.account_in(w, buyer.credit_code)
            get = self.exchange_writes.account_in(w, seller.credit_code, at)
            pay.post(ref=trade_id, paid=trade["value"], at=at)
            get.post(ref=trade_id, received=trade["value"], at=at)
            rights = self._rights_in(w, i, [[seller.credit_code, buyer.credit_code,
                                             trade["qty"], trade_id]], trade_id, at)
            m.approve(trade_id=trade_id, administrator=administrator, at=at)
            self.core.save(m, *rights, i, pay, get)

        self.exchange_writes.with_writer(f"market {instrument}", run)

    def reject_trade(self, *, instrument: str, trade_id: str, administrator: str, reason: str,
                     at: str) -> None:
        """Reject a queued trade: the seller's units and the buyer's cash are released. Written
        by the order process when there is one (`Elsewhere`)."""
        if self.elsewhere is not None:
            self.elsewhere.command("reject_trade", {
                "instrument": instrument, "trade_id": trade_id, "administrator": administrator,
                "reason": reason, "at": at}, here=self._reject_trade)
        else:
            self._reject_trade(instrument=instrument, trade_id=trade_id,
                               administrator=administrator, reason=reason, at=at)

    def _reject_trade(self, *, instrument: str, trade_id: str, administrator: str,
                      reason: str, at: str) -> None:

        def run(w: ExchangeWriter) -> None:
            m = self.exchange_writes.market_in(w, instrument)
            trade = m.pending_trade(trade_id)
            i = self.exchange_writes.instrument_in(w, instrument)
            a = self.exchange_writes.account_in(w, trade["buyer"])
            m.reject(trade_id=trade_id, administrator=administrator, reason=reason, at=at)
            a.post(ref=trade_id, released=trade["value"], at=at)
            # whatever is left: never more than the pool holds beyond the seller's other
            # orders and sales (a lifecycle change may have taken units from under it)
            seller = trade["seller"]
            others = sum(o.remaining for o in m.orders.values()
                         if o.account == seller and o.side == "S")
            others += sum(t["qty"] for t in m.pending.values() if t["seller"] == seller)
            held = i.reservations().get(pool_ref(instrument), {}).get(seller, 0)
            i.settle_batch(pool=pool_ref(instrument), reserve={}, transfers=[],
                           release={seller: max(0, min(trade["qty"], held - others))},
                           rule_version=self.exchange_writes.rules_in(w, i).version,
                           ref=trade_id, at=at)
            self.core.save(m, i, a)

        self.exchange_writes.with_writer(f"market {instrument}", run)


def _record_positions(results: dict[int, list[Outcome] | RegistryError],
                      recorded_by: Mapping[int, Any], recordings: Any) -> None:
    """Each part's outcomes that went in, with the log position of the ``BatchMatched``
    that recorded them, as the save's recordings say (``notification.id``): what the routes
    answer as the request's ledger position without searching the log for it. Outcomes of a
    part the recordings do not name (a commit resolved after a failure returns none) keep
    ``position`` None."""
    if not recorded_by:
        return
    positions = {id(r.domain_event): r.notification.id for r in recordings or ()}
    for part, event in recorded_by.items():
        position = positions.get(id(event))
        outcomes = results[part]
        if position is None or isinstance(outcomes, RegistryError):
            continue
        results[part] = at_position(outcomes, position)


class _Found(NamedTuple):
    """A stored event found in the log, in the shape of the save's recordings that
    `_record_positions` reads (``domain_event``, ``notification.id``)."""
    domain_event: Any
    notification: Any


#: how far back from the head `_stored_recordings` looks at first: the events were committed
#: a moment ago, by the one exchange writer
_RECENT = 1_000


def _stored_recordings(core: Any, events: Iterable[Any]) -> list[_Found]:
    """The log positions of ``events`` (each market's ``BatchMatched`` of a save whose commit
    was resolved after a failure: committed, but the save returned no recordings), found by
    originator id and version among the batches nearest the head, then further back: so
    that the routes answer these requests with their own batch, as any other's. The write is
    done whatever this finds: a store that fails again while it looks (a database restarting)
    leaves the positions unknown, never turns the committed write into a failure."""
    wanted = {(str(e.originator_id), e.originator_version): e for e in events}
    found: list[_Found] = []
    try:
        head = core.recorder.max_notification_id() or 0
        start = max(1, head - _RECENT)
        while wanted:
            for n in _batches_from(core, start, head):
                event = wanted.pop((str(n.originator_id), n.originator_version), None)
                if event is not None:
                    found.append(_Found(event, n))
            if start == 1:
                break
            head, start = start - 1, max(1, start - 8 * _RECENT)
    except Exception:  # the commit stands; the routes search for what is not found here
        log.warning("a committed batch's log positions could not be read", exc_info=True)
    return found


def _batches_from(core: Any, start: int, stop: int) -> Iterator[Any]:
    """The ``BatchMatched`` notifications from ``start`` to ``stop``, in log order."""
    while start <= stop:
        page = core.recorder.select_notifications(start, 500, stop=stop, topics=(BATCH_TOPIC,))
        if not page:
            return
        yield from page
        start = page[-1].id + 1


class _PartFailed(Exception):
    """A part of a cycle's plan failed beyond a refusal (`submit_order_batches`)."""

    def __init__(self, part: int, error: Exception) -> None:
        super().__init__(part, error)
        self.part, self.error = part, error


def _assemble(batches: Mapping[str, Sequence[Request]], plan: list[tuple[str, list[int]]],
              done: Mapping[int, list[Outcome] | RegistryError],
              poisoned: Mapping[tuple[str, int], Exception],
              ) -> dict[str, list[Outcome] | RegistryError]:
    """Per market, an outcome per request in arrival order (or the market's error)."""
    if not poisoned and len(plan) == len(batches):
        # nothing was cut or left out (`submit_order_batches` only cuts a part in two or
        # drops one it poisoned): one part per market, its requests in arrival order
        results = [(code, done[part]) for part, (code, _) in enumerate(plan)]
        out = {code: r for code, r in results if isinstance(r, RegistryError)}
        out.update((code, r) for code, r in results if not isinstance(r, RegistryError))
        return out
    return _assemble_parts(batches, plan, done, poisoned)


def _assemble_parts(batches: Mapping[str, Sequence[Request]],
                    plan: list[tuple[str, list[int]]],
                    done: Mapping[int, list[Outcome] | RegistryError],
                    poisoned: Mapping[tuple[str, int], Exception],
                    ) -> dict[str, list[Outcome] | RegistryError]:
    """`_assemble` for any plan: parts of a market's batch cut apart, requests left out."""
    by_request: dict[tuple[str, int], Outcome] = {}
    out: dict[str, list[Outcome] | RegistryError] = {}
    for part, (code, indexes) in enumerate(plan):
        result = done[part]
        if isinstance(result, RegistryError):
            out[code] = result
            continue
        for k, outcome in zip(indexes, result, strict=True):
            by_request[(code, k)] = outcome
    for (code, k), exc in poisoned.items():
        request = batches[code][k]
        by_request[(code, k)] = Outcome(getattr(request, "order_id", ""), "rejected", [], 0,
                                        type(exc).__name__, str(exc), exc)
    for code in sorted(batches):
        if code not in out:
            out[code] = [by_request[(code, k)] for k in range(len(batches[code]))]
    return out

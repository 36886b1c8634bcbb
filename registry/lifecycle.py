"""One rule for every lifecycle change: what depends on the units or the party it touches is
ended in the same save, with an event saying why, and what it held is released.

The changes: revocation of a lot (fraud found by a spot check), expiry, a freeze, a credit
restriction. What depends on an instrument's units or on a party:

* resting orders of the exchange (`Market.cancel_orders`) and trades waiting for an
  administrator (`Market.reject`): a sell order or a pending sale stands on the seller's units
  in the market's pool; a buy order or a pending purchase on the buyer's cash;
* agreements (`Agreement.end`, rejected), auctions (`Auction.void`) and their bids
  (`Auction.cancel_bids`), capacity-expansion applications (`ExpansionApplication.reject`);
* holds an enterprise made for itself, and any other reservation
  (`Instrument.cancel_reservation`).

The rule (`settle_dependents`), per instrument:

1. every reservation the change hit (revocation, expiry), or that belongs to an owner whose
   units are frozen, or to a restricted party, is ended whole and its units and cash released;
   a restricted party's buy orders, pending purchases, accepted agreements as buyer and bids
   are ended too;
2. the pool rule: a seller's resting sells plus its pending sales never exceed the units the
   market's pool still holds for it. Where they do, its sells are cancelled latest first, then
   its pending sales rejected latest first, until they fit; pool units nothing stands on any
   more go back to the seller's available units.

A halt holds instead of ending: the book keeps its orders, takes no new ones, and cancels still
release (`Market.halt`). Everything runs under the exchange's writer (the markets live there),
so the change and its consequences are one save; a refusal anywhere changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from domain.errors import InvalidInput, InvalidState, NotFound
from domain.exchange.agreement import ACCEPTED, OFFERED, REJECTED, Agreement
from domain.exchange.auction import BIDDER, OPEN, PRICE, QTY, Auction
from domain.exchange.cash import CashAccount
from domain.exchange.market import Market, pool_ref
from domain.exchange.money import value
from domain.expansion import SUBMITTED, ExpansionApplication
from domain.instrument import Instrument
from registry.app import RegistryBase
from registry.exchange_writes import ExchangeWrites

if TYPE_CHECKING:
    from registry.exchange_writer import ExchangeWriter

#: who ends the dependents of a change that names no administrator
SYSTEM = "system:lifecycle"


def who(actor: str) -> str:
    """The actor a lifecycle command records: the one it was given, or, when left at the
    default, whoever is acting (the request's user, the approved proposal's proposer)."""
    from registry.acting import current, current_actor

    return current_actor() if actor == SYSTEM and current() is not None else actor


class Changes:
    """What one lifecycle command changed, to save in one go, and the cash it releases."""

    def __init__(self) -> None:
        self.aggregates: dict[Any, Any] = {}
        self.cash: dict[str, int] = {}  # account -> fen to release
        self.ended: list[dict[str, Any]] = []  # what was ended, for the caller's answer

    def add(self, *aggregates: Any) -> None:
        for a in aggregates:
            self.aggregates[a.id] = a

    def release_cash(self, account: str, amount: int) -> None:
        if amount:
            self.cash[account] = self.cash.get(account, 0) + amount

    def note(self, what: str, ref: str, **detail: Any) -> None:
        self.ended.append({"what": what, "ref": ref, **detail})


class LifecycleService:
    """The lifecycle rule and the changes that end what depends on a party or a market."""

    def __init__(self, core: RegistryBase, *, exchange_writes: ExchangeWrites) -> None:
        self.core = core
        self.exchange_writes = exchange_writes

    # -- commands ------------------------------------------------------------------------------

    def restrict_enterprise(self, *, credit_code: str, reason: str, reference: str, at: str,
                            actor: str = SYSTEM) -> dict[str, Any]:
        """Bar an enterprise from trading; everything it has on the exchange's modes (orders
        on both sides, pending trades, agreements, auctions, bids, holds, applications) ends
        in the same save. Returns what was ended."""
        actor = who(actor)

        def run(w: ExchangeWriter) -> dict[str, Any]:
            e = self.exchange_writes.trader_in(w, credit_code)
            e.restrict(reason=reason, reference=reference, at=at)
            changes = Changes()
            changes.add(e)
            self.settle_party(w, credit_code, changes, at=at, by=actor,
                              reason=f"credit restriction {reference}: {reason}")
            self.save_changes(w, changes, ref=f"restriction:{reference}", at=at)
            return {"ended": changes.ended}

        result: dict[str, Any] = self.exchange_writes.with_writer(
            f"restriction of {credit_code}", run)
        return result

    def halt_market(self, *, instrument: str, reason: str, administrator: str,
                    at: str) -> None:
        """Stop a market taking orders; what rests is held, cancels still release."""

        def run(w: ExchangeWriter) -> None:
            m = self.exchange_writes.market_in(w, instrument)
            m.halt(reason=reason, administrator=administrator, at=at)
            self.core.save(m)

        self.exchange_writes.with_writer(f"market {instrument}", run)

    def resume_market(self, *, instrument: str, reason: str, administrator: str,
                      at: str) -> None:
        def run(w: ExchangeWriter) -> None:
            m = self.exchange_writes.market_in(w, instrument)
            m.resume(reason=reason, administrator=administrator, at=at)
            self.core.save(m)

        self.exchange_writes.with_writer(f"market {instrument}", run)

    def void_auction(self, *, auction_id: str, reason: str, administrator: str,
                     at: str) -> dict[str, Any]:
        """An administrator ends an open auction without a sale: every bid's cash and the
        offered units are released in the same save."""

        def run(w: ExchangeWriter) -> dict[str, Any]:
            x = self._dependent(w, Auction, Auction.create_id(auction_id))
            if x is None:
                raise NotFound(f"auction {auction_id} not found")
            if not administrator.strip():
                raise InvalidInput("voiding an auction needs the administrator's id")
            i = self.exchange_writes.instrument_in(w, x.instrument)
            changes = Changes()
            if x.state != OPEN:
                raise InvalidState(f"auction {auction_id} is {x.state}")
            self._end_reservation(w, i, x.reservation_ref, changes, reason=reason,
                                  by=administrator, at=at)
            self.save_changes(w, changes, ref=x.reservation_ref, at=at)
            return {"ended": changes.ended}

        result: dict[str, Any] = self.exchange_writes.with_writer(f"auction {auction_id}", run)
        return result

    # -- the rule ------------------------------------------------------------------------------

    def settle_dependents(
        self, w: ExchangeWriter, i: Instrument, changes: Changes, *, reason: str, by: str,
        at: str, refs: Iterable[str] = (), owners: Iterable[str] = (),
        parties: Iterable[str] = (),
    ) -> None:
        """Apply the rule of the module docstring to instrument ``i``: ``refs`` the
        reservations hit, ``owners`` whose every unit reservation ends, ``parties`` whose
        every reservation (units and cash) ends."""
        owners, parties = set(owners), set(parties)
        reservations = i.reservations()
        pool = pool_ref(i.code)
        drop = {r for r in refs if r != pool}
        for ref, per in reservations.items():
            if ref != pool and any(o in owners or o in parties for o in per):
                drop.add(ref)
        if parties:
            drop |= self._party_side(w, reservations, parties, changes, reason=reason, by=by,
                                     at=at)
        for ref in sorted(drop):
            self._end_reservation(w, i, ref, changes, reason=reason, by=by, at=at)
        try:
            m = self.exchange_writes.market_in(w, i.code)
        except NotFound:
            return
        self.pool_rule(m, i, reservations.get(pool, {}), changes, owners=owners | parties,
                       parties=parties, reason=reason, by=by, at=at)

    def _party_side(self, w: ExchangeWriter, reservations: dict[str, dict[str, int]],
                    parties: set[str], changes: Changes, *, reason: str, by: str,
                    at: str) -> set[str]:
        """A restricted party as buyer: its agreements to end, its bids withdrawn."""
        drop: set[str] = set()
        for ref in reservations:
            kind, _, name = ref.partition(":")
            if kind == "agreement":
                a = self._dependent(w, Agreement, Agreement.create_id(name))
                if a is not None and a.buyer in parties:
                    drop.add(ref)
            elif kind == "auction":
                x = self._dependent(w, Auction, Auction.create_id(name))
                if x is None or x.seller in parties:
                    continue
                for party in sorted(parties):
                    bids = x.cancel_bids(bidder=party, reason=reason, by=by, at=at)
                    for b in bids:
                        changes.release_cash(b[BIDDER], value(b[PRICE], b[QTY]))
                    if bids:
                        changes.add(x)
                        changes.note("bids-cancelled", ref, bidder=party, bids=len(bids))
        return drop

    def _dependent(self, w: ExchangeWriter, cls: type, aggregate_id: Any) -> Any:
        try:
            found = w.get(aggregate_id, cls.__name__)
        except NotFound:
            return None
        return found if isinstance(found, cls) else None

    def _end_reservation(self, w: ExchangeWriter, i: Instrument, ref: str, changes: Changes,
                         *, reason: str, by: str, at: str) -> None:
        """End whatever holds units under ``ref`` and return what is left of them."""
        kind, _, name = ref.partition(":")
        if kind == "agreement":
            a = self._dependent(w, Agreement, Agreement.create_id(name))
            if a is not None and a.state in (OFFERED, ACCEPTED):
                was = a.end(state=REJECTED, by=by, reason=reason, at=at)
                if was == ACCEPTED:
                    changes.release_cash(a.buyer, a.amount)
                changes.add(a)
                changes.note("agreement-rejected", ref)
        elif kind == "auction":
            x = self._dependent(w, Auction, Auction.create_id(name))
            if x is not None and x.state == OPEN:
                for b in x.void(reason=reason, by=by, at=at):
                    changes.release_cash(b[BIDDER], value(b[PRICE], b[QTY]))
                changes.add(x)
                changes.note("auction-voided", ref)
        elif kind == "expansion":
            x = self._dependent(w, ExpansionApplication, ExpansionApplication.create_id(name))
            if x is not None and x.state == SUBMITTED:
                x.reject(administrator=by, reason=reason, at=at)
                changes.add(x)
                changes.note("expansion-rejected", ref)
        released = i.cancel_reservation(ref=ref, reason=reason, by=by, at=at)
        if released:
            changes.add(i)
            changes.note("reservation-released", ref, units=released)

    def pool_rule(self, m: Market, i: Instrument, pooled: dict[str, int], changes: Changes,
                  *, owners: set[str], parties: set[str], reason: str, by: str,
                  at: str) -> None:
        """Step 1 for the market (the owners' sells and pending sales, the parties' buys and
        pending purchases), then the pool rule for every seller."""
        cancel = [oid for oid, o in m.orders.items()
                  if o.account in parties or (o.account in owners and o.side == "S")]
        reject = [tid for tid, t in m.pending.items()
                  if t["seller"] in owners or t["buyer"] in parties]
        cancelled, rejected = set(cancel), set(reject)
        sellers = {o.account for o in m.orders.values() if o.side == "S"}
        sellers |= {t["seller"] for t in m.pending.values()} | set(pooled)
        excess: dict[str, int] = {}
        for seller in sorted(sellers):
            sells = [(oid, o.remaining) for oid, o in m.orders.items()
                     if o.side == "S" and o.account == seller and oid not in cancelled]
            sales = [(tid, t["qty"]) for tid, t in m.pending.items()
                     if t["seller"] == seller and tid not in rejected]
            have = pooled.get(seller, 0)
            need = sum(q for _, q in sells) + sum(q for _, q in sales)
            while need > have and sells:  # latest first: they came last
                oid, q = sells.pop()
                cancel.append(oid)
                need -= q
            while need > have and sales:
                tid, q = sales.pop()
                reject.append(tid)
                need -= q
            excess[seller] = have - need
        for record in m.cancel_orders(cancel, reason=reason, by=by, at=at):
            if record.side == "B":
                changes.release_cash(record.account, value(record.price, record.remaining))
        for tid in reject:
            trade = m.reject(trade_id=tid, administrator=by, reason=reason, at=at)
            changes.release_cash(trade["buyer"], trade["value"])
        if cancel or reject:
            changes.add(m)
            changes.note("orders-ended", pool_ref(i.code), cancelled=cancel, rejected=reject)
        for seller, units in sorted(excess.items()):
            if units > 0 and i.cancel_reservation(ref=pool_ref(i.code), owner=seller,
                                                  quantity=units, reason=reason, by=by,
                                                  at=at):
                changes.add(i)

    def settle_party(self, w: ExchangeWriter, party: str, changes: Changes, *, reason: str,
                     by: str, at: str) -> None:
        """A credit restriction of ``party``: the rule over every instrument."""
        for code in self.core.catalogue().entries["instruments"]:
            i = self.exchange_writes.instrument_in(w, code)
            self.settle_dependents(w, i, changes, reason=reason, by=by, at=at,
                                   parties=(party,))

    def save_changes(self, w: ExchangeWriter, changes: Changes, *, ref: str, at: str) -> None:
        """Post the released cash (one event per account) and save everything at once."""
        for owner, amount in sorted(changes.cash.items()):
            a: CashAccount = self.exchange_writes.account_in(w, owner)
            a.post(ref=ref, released=amount, at=at)
            changes.add(a)
        dirty = [a for a in changes.aggregates.values() if a.pending_events]
        if dirty:
            self.core.save(*dirty)

"""The settlement desk of one batch: what each enterprise may still reserve, and what the batch
must post to the other aggregates (cash accounts, the instrument) in the same atomic save.

Tallies start from the aggregates as loaded and follow the batch order by order:

* cash: available = balance − reserved at the start, minus what this batch reserved, plus what
  it released. Proceeds of units sold in the batch become available from the next batch.
* units: usable (available, unfrozen, valid) at the start, minus reserved, plus released; units
  bought in the batch become usable from the next batch. The valid reserved pool is counted
  conservatively (releases are assumed to take valid units).

Automated trade checks (`check_trade`): both enterprises' credit standing, the trading-scope
rules for this seller → buyer, enough valid reserved units of the seller (frozen, expired or
revoked units fall out of the pool), and the value threshold. A trade failing any goes to the
administrator verification queue instead of settling. The party checks depend only on the two
enterprises as they stand and on the rules, so `PairChecks` remembers them between batches,
keyed by everything they read.

Tallies are small slotted records per enterprise (`CashTally`, `UnitTally`), read and bumped in
place: a batch touches the same few dozen enterprises thousands of times.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from domain.enterprise import Enterprise
from domain.errors import InsufficientFunds, InsufficientHoldings, NotFound, RegistryError
from domain.exchange.cash import CashAccount
from domain.rules import TradingRules


@dataclass(slots=True)
class CashTally:
    """One account's cash in this batch (fen): gross movements, and the available balance at
    the start of the batch."""

    start: int
    reserved: int = 0
    paid: int = 0
    released: int = 0
    received: int = 0

    def available(self) -> int:
        return self.start - self.reserved + self.released


@dataclass(slots=True)
class UnitTally:
    """One owner's units in this batch: gross movements (out: transferred or held for the
    verification queue), and its position at the start of the batch."""

    usable: int  #: available, unfrozen, valid units at the start
    pool: int  #: valid units in the exchange's pool at the start
    reserved: int = 0
    released: int = 0
    out: int = 0

    def available(self) -> int:
        return self.usable - self.reserved + self.released

    def pool_valid(self) -> int:
        return self.pool + self.reserved - self.released - self.out


class PairChecks:
    """Reasons a seller → buyer trade may not settle automatically, by the parties' profiles
    (credit standing and `Party`) under one rule set, kind and zone. Pure memo: a key holds
    every input of the check, so it never goes stale; a profile that changes is a new key."""

    def __init__(self, *, kind: str, zone: str, rules: TradingRules) -> None:
        self.kind, self.zone, self.rules = kind, zone, rules
        self._ids: dict[Any, int] = {}
        self._profiles: list[Any] = []
        self._reasons: dict[tuple[int, int], tuple[str, ...]] = {}

    def profile(self, e: Enterprise | None, code: str) -> int:
        """A small id for what the checks read of enterprise ``e`` (None: not found)."""
        key: Any = ("unknown", code)
        if e is not None:
            try:
                e.check_may_trade()
                may_trade = True
            except RegistryError:
                may_trade = False
            key = (may_trade, e.party())
        pid = self._ids.get(key)
        if pid is None:
            pid = self._ids[key] = len(self._profiles)
            self._profiles.append(key)
        return pid

    def reasons(self, seller: int, buyer: int) -> tuple[str, ...]:
        pair = (seller, buyer)
        found = self._reasons.get(pair)
        if found is None:
            found = self._reasons[pair] = self._check(self._profiles[seller],
                                                      self._profiles[buyer])
        return found

    def _check(self, s: Any, b: Any) -> tuple[str, ...]:
        if s[0] == "unknown" or b[0] == "unknown":
            return ("unknown-enterprise",)
        reasons = [f"credit-restricted:{p.credit_code}" for ok, p in (s, b) if not ok]
        try:
            self.rules.check_transfer(self.kind, self.zone, s[1], b[1])
        except RegistryError:
            reasons.append("outside-trading-zone")
        return tuple(reasons)


class Desk:
    def __init__(
        self, *, kind: str, zone: str, rules: TradingRules,
        traders: Callable[[str], Enterprise], accounts: Callable[[str], CashAccount],
        positions: Callable[[str], list[int]], checks: PairChecks | None = None,
    ) -> None:
        self.kind, self.zone, self.rules = kind, zone, rules
        self._traders = traders
        self._accounts = accounts
        self._positions = positions  # owner -> [usable available, valid pool] at the start
        self.checks = checks if checks is not None else PairChecks(kind=kind, zone=zone,
                                                                   rules=rules)
        self.cash: dict[str, CashTally] = {}
        self.units: dict[str, UnitTally] = {}
        self.transfers: list[list[Any]] = []
        # per batch memo: the same enterprises come back order after order
        self._known: dict[str, Enterprise] = {}
        self._entry: dict[str, RegistryError | None] = {}
        self._profile: dict[str, int] = {}

    # -- parties -------------------------------------------------------------------------------

    def trader(self, code: str) -> Enterprise:
        e = self._known.get(code)
        if e is None:
            e = self._known[code] = self._traders(code)
        return e

    def check_entry(self, code: str) -> None:
        """Credit standing and the trading-zone pre-check: may this enterprise hold the
        instrument's units at all (its zone, the direct-discharger rule)?"""
        try:
            refusal = self._entry[code]
        except KeyError:
            refusal = self._entry[code] = self._entry_refusal(code)
        if refusal is not None:
            raise type(refusal)(*refusal.args)

    def _entry_refusal(self, code: str) -> RegistryError | None:
        try:
            e = self.trader(code)
            e.check_may_trade()
            party = e.party()
            self.rules.check_transfer(self.kind, self.zone, party, party)
        except RegistryError as exc:
            return exc
        return None

    def check_trade(self, seller: str, buyer: str, qty: int) -> list[str]:
        """Reasons this trade may not settle automatically (empty: it may)."""
        profiles = self._profile
        s = profiles.get(seller)
        if s is None:
            s = profiles[seller] = self._profile_of(seller)
        b = profiles.get(buyer)
        if b is None:
            b = profiles[buyer] = self._profile_of(buyer)
        reasons = list(self.checks.reasons(s, b))
        if self.pool_valid(seller) < qty:
            reasons.append("units-unavailable")
        return reasons

    def _profile_of(self, code: str) -> int:
        try:
            e: Enterprise | None = self.trader(code)
        except NotFound:
            e = None
        return self.checks.profile(e, code)

    # -- cash ----------------------------------------------------------------------------------

    def _cash(self, code: str) -> CashTally:
        t = self.cash.get(code)
        if t is None:
            try:
                start = self._accounts(code).available()
            except NotFound:
                start = 0
            t = self.cash[code] = CashTally(start)
        return t

    # the tallies' arithmetic is written out in the methods every order calls (a call less)

    def cash_available(self, code: str) -> int:
        t = self._cash(code)
        return t.start - t.reserved + t.released

    def reserve_cash(self, code: str, amount: int) -> None:
        """Reserve ``amount`` fen, or raise `InsufficientFunds` changing nothing."""
        t = self._cash(code)
        available = t.start - t.reserved + t.released
        if amount > available:
            raise InsufficientFunds(f"{code} has {available} fen available, {amount} needed")
        t.reserved += amount

    def hold_cash(self, code: str, amount: int) -> None:
        """Reserve ``amount`` fen already checked against what is available."""
        if amount:
            self._cash(code).reserved += amount

    def release_cash(self, code: str, amount: int) -> None:
        """Release ``amount`` reserved fen (negative: undo a release)."""
        if amount:
            self._cash(code).released += amount

    def cash_postings(self) -> dict[str, dict[str, int]]:
        """Per account, the netted ``CashAccount.post`` arguments."""
        out = {}
        for code, t in self.cash.items():
            net = t.reserved - t.released
            out[code] = {"reserved": max(net, 0), "released": max(-net, 0), "paid": t.paid,
                         "received": t.received}
        return out

    # -- units ---------------------------------------------------------------------------------

    def _units(self, code: str) -> UnitTally:
        """The owner's tallies; its position is read (once) on first use."""
        t = self.units.get(code)
        if t is None:
            usable, pool = self._positions(code)
            t = self.units[code] = UnitTally(usable, pool)
        return t

    def units_available(self, code: str) -> int:
        t = self._units(code)
        return t.usable - t.reserved + t.released

    def pool_valid(self, code: str) -> int:
        t = self._units(code)
        return t.pool + t.reserved - t.released - t.out

    def reserve_units(self, code: str, qty: int) -> None:
        """Reserve ``qty`` units, or raise `InsufficientHoldings` changing nothing."""
        t = self._units(code)
        usable = t.usable - t.reserved + t.released
        if qty > usable:
            raise InsufficientHoldings(f"{code} has {usable} usable units, {qty} needed")
        t.reserved += qty

    def release_units(self, code: str, qty: int) -> None:
        if qty:
            self._units(code).released += qty

    def trade(self, seller: str, buyer: str, qty: int, amount: int, trade: str, *,
              above_threshold: bool) -> list[str]:
        """One fill: run the automated checks and settle it delivery-versus-payment (units
        out of the seller's pool to the buyer, ``amount`` fen out of the buyer's reservation to
        the seller), or, if a check fails, hold its units for the verification queue. Returns
        the reasons it waits (empty: settled)."""
        reasons = self.check_trade(seller, buyer, qty)
        if above_threshold:
            reasons.append("above-threshold")
        self._units(seller).out += qty  # settled or held: no later trade may use them
        if not reasons:
            self._cash(buyer).paid += amount
            self._cash(seller).received += amount
            self.transfers.append([seller, buyer, qty, trade])
        return reasons

    def unit_postings(self) -> dict[str, Any]:
        """``Instrument.settle_batch`` arguments (netted reserve / release per owner)."""
        reserve, release = {}, {}
        for code, t in self.units.items():
            net = t.reserved - t.released
            if net > 0:
                reserve[code] = net
            elif net < 0:
                release[code] = -net
        return {"reserve": reserve, "release": release, "transfers": self.transfers}

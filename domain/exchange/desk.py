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
administrator verification queue instead of settling.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from domain.enterprise import Enterprise
from domain.errors import InsufficientFunds, InsufficientHoldings, NotFound, RegistryError
from domain.exchange.cash import CashAccount
from domain.rules import TradingRules

#: cash tallies per account: reserved, paid, released, received (gross, this batch)
R, P, L, RCV = range(4)


class Desk:
    def __init__(
        self, *, kind: str, zone: str, rules: TradingRules,
        traders: Callable[[str], Enterprise], accounts: Callable[[str], CashAccount],
        positions: Callable[[str], list[int]],
    ) -> None:
        self.kind, self.zone, self.rules = kind, zone, rules
        self._traders = traders
        self._accounts = accounts
        self._positions = positions  # owner -> [usable available, valid pool] at the start
        self.positions: dict[str, list[int]] = {}
        self.cash: dict[str, list[int]] = {}
        self.cash_start: dict[str, int] = {}
        self.units: dict[str, list[int]] = {}  # owner -> [reserved, released, transferred out]
        self.transfers: list[list[Any]] = []
        # per batch memo: the same enterprises and pairs come back order after order
        self._known: dict[str, Enterprise] = {}
        self._entry: dict[str, RegistryError | None] = {}
        self._pairs: dict[tuple[str, str], list[str]] = {}

    # -- parties -------------------------------------------------------------------------------

    def trader(self, code: str) -> Enterprise:
        e = self._known.get(code)
        if e is None:
            e = self._known[code] = self._traders(code)
        return e

    def check_entry(self, code: str) -> None:
        """Credit standing and the trading-zone pre-check: may this enterprise hold the
        instrument's units at all (its zone, the direct-discharger rule)?"""
        if code not in self._entry:
            try:
                e = self.trader(code)
                e.check_may_trade()
                party = e.party()
                self.rules.check_transfer(self.kind, self.zone, party, party)
                self._entry[code] = None
            except RegistryError as exc:
                self._entry[code] = exc
        refusal = self._entry[code]
        if refusal is not None:
            raise type(refusal)(*refusal.args)

    def check_trade(self, seller: str, buyer: str, qty: int) -> list[str]:
        """Reasons this trade may not settle automatically (empty: it may)."""
        pair = (seller, buyer)
        reasons = self._pairs.get(pair)
        if reasons is None:
            reasons = self._pairs[pair] = self._check_parties(seller, buyer)
        if self.pool_valid(seller) < qty:
            return [*reasons, "units-unavailable"]
        return list(reasons)

    def _check_parties(self, seller: str, buyer: str) -> list[str]:
        reasons: list[str] = []
        try:
            s, b = self.trader(seller), self.trader(buyer)
            for e in (s, b):
                try:
                    e.check_may_trade()
                except RegistryError:
                    reasons.append(f"credit-restricted:{e.credit_code}")
            try:
                self.rules.check_transfer(self.kind, self.zone, s.party(), b.party())
            except RegistryError:
                reasons.append("outside-trading-zone")
        except NotFound:
            reasons.append("unknown-enterprise")
        return reasons

    # -- cash ----------------------------------------------------------------------------------

    def _cash(self, code: str) -> list[int]:
        t = self.cash.get(code)
        if t is None:
            t = self.cash[code] = [0, 0, 0, 0]
            try:
                self.cash_start[code] = self._accounts(code).available()
            except NotFound:
                self.cash_start[code] = 0
        return t

    def cash_available(self, code: str) -> int:
        t = self._cash(code)
        return self.cash_start[code] - t[R] + t[L]

    def reserve_cash(self, code: str, amount: int) -> None:
        if amount > self.cash_available(code):
            raise InsufficientFunds(
                f"{code} has {self.cash_available(code)} fen available, {amount} needed"
            )
        self._cash(code)[R] += amount

    def move_cash(self, code: str, slot: int, amount: int) -> None:
        if amount:
            self._cash(code)[slot] += amount

    def cash_postings(self) -> dict[str, dict[str, int]]:
        """Per account, the netted ``CashAccount.post`` arguments."""
        out = {}
        for code, t in self.cash.items():
            net = t[R] - t[L]
            out[code] = {"reserved": max(net, 0), "released": max(-net, 0), "paid": t[P],
                         "received": t[RCV]}
        return out

    # -- units ---------------------------------------------------------------------------------

    def _units(self, code: str) -> list[int]:
        t = self.units.get(code)
        if t is None:
            t = self.units[code] = [0, 0, 0]
        return t

    def position(self, code: str) -> list[int]:
        """[usable available, valid pool] units at the start of the batch (read once)."""
        p = self.positions.get(code)
        if p is None:
            p = self.positions[code] = self._positions(code)
        return p

    def units_available(self, code: str) -> int:
        t = self._units(code)
        return self.position(code)[0] - t[0] + t[1]

    def pool_valid(self, code: str) -> int:
        t = self._units(code)
        return self.position(code)[1] + t[0] - t[1] - t[2]

    def reserve_units(self, code: str, qty: int) -> None:
        if qty > self.units_available(code):
            raise InsufficientHoldings(
                f"{code} has {self.units_available(code)} usable units, {qty} needed"
            )
        self._units(code)[0] += qty

    def release_units(self, code: str, qty: int) -> None:
        if qty:
            self._units(code)[1] += qty

    def claim_units(self, seller: str, qty: int) -> None:
        """Units of the pool now held for a pending trade (no longer usable by later trades)."""
        self._units(seller)[2] += qty

    def transfer(self, seller: str, buyer: str, qty: int, trade: str) -> None:
        self._units(seller)[2] += qty
        self.transfers.append([seller, buyer, qty, trade])

    def unit_postings(self) -> dict[str, Any]:
        """``Instrument.settle_batch`` arguments (netted reserve / release per owner)."""
        reserve, release = {}, {}
        for code, t in self.units.items():
            net = t[0] - t[1]
            if net > 0:
                reserve[code] = net
            elif net < 0:
                release[code] = -net
        return {"reserve": reserve, "release": release, "transfers": self.transfers}

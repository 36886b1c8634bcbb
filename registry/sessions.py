"""Scheduled work of the trading day, done by named jobs: the close and the daily roll.

* ``close`` (`close_markets`), run after the day's last session: every day order still
  resting expires, and every good-till-cancelled order past its market's ``gtc_days``; each
  market's expiries are one ``Market.OrdersCancelled`` (``by`` ``system:close``) and the cash
  and units they held are released, all markets in one save.
* ``roll`` (`roll_markets`), run before the first session: each market's reference price is
  rolled by its rule (`domain.exchange.sessions`: the previous close or VWAP) in a
  ``Market.ReferenceRolled`` (``by`` ``system:roll``), and resting orders outside the new band
  are cancelled, releasing what they held. Changing the reference by hand
  (`set_market_parameters`) cancels them the same way. So every resting order lies inside
  the band, every fill is at a resting order's price, and the cash a buyer reserved (its limit,
  or the band's top for a market order) always covers what it pays.

Both take the time as an argument (a scheduler or the CLI passes it); the domain never reads a
clock. A job's events name it: ``system:<job>``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from domain.errors import InvalidState, NotFound
from domain.exchange.market import Market, pool_ref
from domain.exchange.money import value
from domain.instrument import Instrument
from registry.app import RegistryBase
from registry.exchange_writes import ExchangeWrites
from registry.lifecycle import Changes, LifecycleService

if TYPE_CHECKING:
    from registry.exchange_writer import ExchangeWriter


class SessionService:
    """The markets' trading sessions: closing and rolling every market at once."""

    def __init__(self, core: RegistryBase, *, exchange_writes: ExchangeWrites,
                 lifecycle: LifecycleService) -> None:
        self.core = core
        self.exchange_writes = exchange_writes
        self.lifecycle = lifecycle

    def _open_markets(self, w: ExchangeWriter) -> list[tuple[Market, Instrument]]:
        out = []
        for code in self.core.catalogue().entries["instruments"]:
            try:
                m = self.exchange_writes.market_in(w, code)
            except NotFound:
                continue
            out.append((m, self.exchange_writes.instrument_in(w, code)))
        return out

    def cancel_resting(self, m: Market, i: Instrument, order_ids: Sequence[str],
                       changes: Changes, *, reason: str, by: str, at: str) -> None:
        """Take ``order_ids`` off the book, releasing a buy's cash and a sell's units."""
        if not order_ids:
            return
        for record in m.cancel_orders(order_ids, reason=reason, by=by, at=at):
            if record.side == "B":
                changes.release_cash(record.account, value(record.price, record.remaining))
        changes.add(m)
        changes.note("orders-ended", pool_ref(i.code), cancelled=list(order_ids))
        # the sells' units: what the pool holds beyond what still stands on it goes back
        self.lifecycle.pool_rule(m, i, i.reservations().get(pool_ref(i.code), {}), changes,
                                 owners=set(), parties=set(), reason=reason, by=by, at=at)

    def close_markets(self, *, at: str, job: str = "close") -> dict[str, list[str]]:
        """The close job: expire day orders (and GTC orders past their bound) of every market
        whose day is over at ``at``; returns the expired order ids per market."""
        by = f"system:{job}"

        def run(w: ExchangeWriter) -> dict[str, list[str]]:
            changes = Changes()
            out: dict[str, list[str]] = {}
            for m, i in self._open_markets(w):
                try:
                    expiring = m.expiring_orders(at=at)
                except InvalidState:  # its day is not over: it keeps its book
                    continue
                self.cancel_resting(m, i, expiring, changes, at=at, by=by,
                                    reason="expired at the close")
                out[m.instrument] = expiring
            self.lifecycle.save_changes(w, changes, ref=f"{by}:{at[:10]}", at=at)
            return out

        result: dict[str, list[str]] = self.exchange_writes.with_writer(f"the {job} job", run)
        return result

    def roll_markets(self, *, at: str, job: str = "roll") -> dict[str, dict[str, Any]]:
        """The roll job: each market's reference price for the trading day of ``at``, and the
        resting orders the new band leaves out cancelled."""
        by = f"system:{job}"

        def run(w: ExchangeWriter) -> dict[str, dict[str, Any]]:
            changes = Changes()
            out: dict[str, dict[str, Any]] = {}
            for m, i in self._open_markets(w):
                new = m.roll_reference(by=by, at=at)
                changes.add(m)
                outside = m.outside_band()
                self.cancel_resting(m, i, outside, changes, at=at, by=by,
                                    reason="outside the new price band")
                out[m.instrument] = {"reference_price": m.params["reference_price"],
                                     "rolled": new is not None, "cancelled": outside}
            self.lifecycle.save_changes(w, changes, ref=f"{by}:{at[:10]}", at=at)
            return out

        result: dict[str, dict[str, Any]] = self.exchange_writes.with_writer(f"the {job} job", run)
        return result

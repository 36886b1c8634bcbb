"""Exchange positions carried from batch to batch, so a batch does not rescan every block.

A sell order needs the seller's usable units and a trade the seller's valid pool
(`Instrument.exchange_position`, a walk over all of that owner's blocks). Between two batches of
one market the instrument changes only by the batch's own ``BatchSettled``, whose effect on
those two numbers is exactly what the batch posted:

* ``reserve`` q: usable − q, pool + q (only usable units are reserved);
* ``transfers`` q: the seller's pool − q (only valid pool units move), the buyer's usable + q
  (they arrive available, unfrozen, of a valid lot);
* ``release`` q: pool − q, usable + q — exact only while every lot of the instrument is valid
  on the batch's date (a release may take expired units first), so otherwise the cache is
  dropped.

The cache belongs to one instrument *object* at one version: any other change (another
writer's command, approvals, a reload) or a new date starts it afresh.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from domain.instrument import Instrument


class PositionCache:
    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self._instrument: Instrument | None = None
        self._version = -1
        self._on = ""
        self._values: dict[str, list[int]] = {}

    def reader(self, instrument: Instrument, *, pool: str, on: str) -> Callable[[str], list[int]]:
        """``owner -> [usable available, valid pool]`` as the instrument stands now."""
        if (instrument is not self._instrument or instrument.version != self._version
                or on != self._on):
            self.clear()
            self._instrument, self._version, self._on = instrument, instrument.version, on
        values = self._values

        def read(owner: str) -> list[int]:
            p = values.get(owner)
            if p is None:
                p = values[owner] = instrument.exchange_position(owner, pool=pool, on=on)
            return [p[0], p[1]]

        return read

    def settled(self, instrument: Instrument, *, on: str, reserve: dict[str, int],
                transfers: list[list[Any]], release: dict[str, int]) -> None:
        """After the batch's save: carry the positions read forward by what it moved."""
        if (instrument is not self._instrument or on != self._on
                or any(lot["expires_on"] < on for lot in instrument.lots.values())):
            self.clear()
            return
        values = self._values
        for owner, qty in reserve.items():
            p = values.get(owner)
            if p is not None:
                p[0] -= qty
                p[1] += qty
        for seller, buyer, qty, _ in transfers:
            p = values.get(seller)
            if p is not None:
                p[1] -= qty
            p = values.get(buyer)
            if p is not None:
                p[0] += qty
        for owner, qty in release.items():
            p = values.get(owner)
            if p is not None:
                p[0] += qty
                p[1] -= qty
        self._version = instrument.version

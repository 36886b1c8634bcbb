"""Reservations an enterprise makes for itself (a listing off the exchange, a pending deal).

Their references are scoped to the enterprise (``hold:<credit code>:<ref>``): releasing or
delivering one can only ever touch that enterprise's own holds, never the units the exchange
keeps in its market pools, an agreement or an auction holds, or a capacity-expansion
application reserves. Each function is one registry command.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from domain.errors import NotFound
from domain.topics import event_topic
from registry.app import instrument_id
from registry.directory import position_of

if TYPE_CHECKING:
    from registry.bootstrap import Registry

PREFIX = "hold:"
TRANSFERRED = event_topic("Instrument", "Transferred")


def hold_ref(owner: str, ref: str) -> str:
    return f"{PREFIX}{owner}:{ref}"


def reserve(registry: Registry, *, instrument: str, owner: str, quantity: int, ref: str,
            at: str) -> None:
    registry.holdings.reserve(instrument=instrument, owner=owner, quantity=quantity,
                              ref=hold_ref(owner, ref), at=at)


def release(registry: Registry, *, instrument: str, owner: str, ref: str, at: str,
            quantity: int | None = None) -> int:
    """Units returned to available (all the hold's units unless ``quantity`` is given)."""
    registry.enterprise(owner)
    released = registry.holdings.release(instrument=instrument, ref=hold_ref(owner, ref),
                                         quantity=quantity, at=at)
    if released == 0:  # nothing was held, so nothing was written
        raise NotFound(f"{owner} holds no reservation {ref!r} in {instrument}")
    return released


def transfer(registry: Registry, *, instrument: str, seller: str, buyer: str, quantity: int,
             ref: str, at: str, reason: str, administrator: str,
             from_hold: str | None = None) -> tuple[str, int | None]:
    """A transfer of available units, or of units the seller held under ``from_hold``;
    returns the trading-rule version applied and the log position of the transfer's event
    (for its ledger receipt)."""
    before = registry.queries.position()
    version = registry.holdings.transfer(
        instrument=instrument, seller=seller, buyer=buyer, quantity=quantity, ref=ref, at=at,
        reason=reason, administrator=administrator,
        from_reservation=None if from_hold is None else hold_ref(seller, from_hold))
    position = position_of(
        registry, aggregate_id=instrument_id(instrument),
        topic=TRANSFERRED, after=before,
        match={"seller": seller, "buyer": buyer, "quantity": quantity, "ref": ref})
    return version, position

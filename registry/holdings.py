"""Holding commands: transfers, reservations, capacity expansion, retirement, expiry, freeze."""

from __future__ import annotations

from typing import TYPE_CHECKING

from domain.errors import AlreadyExists
from domain.expansion import ExpansionApplication
from domain.transfer_ref import TransferReference
from registry.app import RegistryBase, command
from registry.exchange_writes import ExchangeWrites
from registry.lifecycle import SYSTEM, Changes, LifecycleService, who
from registry.rights import RightsService

if TYPE_CHECKING:
    from registry.exchange_writer import ExchangeWriter


class HoldingService:
    """Units held: transfers, holds, retirement, expiry, freezes and capacity expansions."""

    def __init__(self, core: RegistryBase, *, rights: RightsService,
                 exchange_writes: ExchangeWrites, lifecycle: LifecycleService) -> None:
        self.core = core
        self.rights = rights
        self.exchange_writes = exchange_writes
        self.lifecycle = lifecycle

    @command
    def transfer(
        self, *, instrument: str, seller: str, buyer: str, quantity: int, ref: str, at: str,
        reason: str, administrator: str, from_reservation: str | None = None,
    ) -> str:
        """A transfer outside the exchange's modes, for a non-trade ``reason`` (merger, court
        order, correction) that ``administrator`` approved; returns the rule version applied.
        The seller's ``ref`` is recorded with it (`TransferReference`): a second transfer
        under the same reference of the same seller and instrument is refused."""
        i = self.core.instrument(instrument)
        if self.core.exists(TransferReference.create_id(instrument=i.code, seller=seller, ref=ref)):
            raise AlreadyExists(f"transfer {ref!r} of {seller} in {i.code} is already recorded")
        rules = self.core.rules_for(i)
        i.transfer(seller=self.core.enterprise(seller), buyer=self.core.enterprise(buyer),
                   quantity=quantity, rules=rules, ref=ref, at=at,
                   from_reservation=from_reservation)
        record = TransferReference.record(instrument=i.code, seller=seller, ref=ref, buyer=buyer,
                                          quantity=quantity, at=at, reason=reason,
                                          administrator=administrator)
        # both parties' confirmed rights are amended in the same save (`registry.rights`)
        rights = self.rights.rights_for_transfer(
            kind=i.kind, seller=seller, buyer=buyer, quantity=quantity, ref=ref, at=at)
        self.core.save(record, *rights, i)  # the transfer's own event stays the save's last
        return rules.version

    @command
    def reserve(self, *, instrument: str, owner: str, quantity: int, ref: str, at: str) -> None:
        i = self.core.instrument(instrument)
        i.reserve(owner=self.core.enterprise(owner), quantity=quantity, ref=ref, at=at)
        self.core.save(i)

    @command
    def release(self, *, instrument: str, ref: str, at: str, quantity: int | None = None) -> int:
        i = self.core.instrument(instrument)
        released = i.release(ref=ref, quantity=quantity, at=at)
        self.core.save(i)
        return released

    @command
    def retire(self, *, instrument: str, owner: str, quantity: int, reason: str, at: str) -> None:
        i = self.core.instrument(instrument)
        i.retire(owner=self.core.enterprise(owner), quantity=quantity, reason=reason, at=at)
        self.core.save(i)

    @command
    def submit_expansion(
        self, *, reference: str, enterprise: str, instrument: str, quantity: int, project: str,
        at: str,
    ) -> ExpansionApplication:
        """Apply surplus to one's own capacity expansion: the units are reserved meanwhile."""
        i = self.core.instrument(instrument)
        e = self.core.enterprise(enterprise)
        x = ExpansionApplication.submit(reference=reference, enterprise=enterprise,
                                        instrument=i.code, quantity=quantity, project=project,
                                        at=at)
        i.reserve(owner=e, quantity=quantity, ref=x.reservation_ref, at=at)
        self.core.create("expansions", reference, x, i)
        return x

    @command
    def approve_expansion(self, *, reference: str, administrator: str, approval: str,
                          at: str) -> None:
        x = self.core.expansion(reference)
        i = self.core.instrument(x.instrument)
        x.approve(administrator=administrator, approval=approval, at=at)
        i.consume(owner=self.core.enterprise(x.enterprise), quantity=x.quantity, approval=approval,
                  at=at, from_reservation=x.reservation_ref)
        # the approval is the new project's permit reference on the confirmed right
        rights = self.rights.rights_for_expansion(
            enterprise=x.enterprise, kind=i.kind, quantity=x.quantity, expansion=reference,
            project_permit=approval, at=at)
        self.core.save(x, *rights, i)

    @command
    def reject_expansion(self, *, reference: str, administrator: str, reason: str,
                         at: str) -> None:
        x = self.core.expansion(reference)
        i = self.core.instrument(x.instrument)
        x.reject(administrator=administrator, reason=reason, at=at)
        i.release(ref=x.reservation_ref, at=at)
        self.core.save(x, i)

    def expire(self, *, as_of: str, at: str, actor: str = SYSTEM) -> dict[str, int]:
        """Expire, in one atomic save, every unit whose validity ended before ``as_of``, and
        end what stood on them (`registry.lifecycle`)."""
        actor = who(actor)

        def run(w: ExchangeWriter) -> dict[str, int]:
            changes = Changes()
            counts: dict[str, int] = {}
            for code in self.core.catalogue().entries["instruments"]:
                i = self.exchange_writes.instrument_in(w, code)
                hit = i.expiring_reservations(as_of=as_of)
                n = i.expire(as_of=as_of, at=at)
                if n:
                    counts[code] = n
                    changes.add(i)
                    self.lifecycle.settle_dependents(w, i, changes, reason=f"units expired before "
                                                     f"{as_of}", by=actor, at=at, refs=hit)
            self.lifecycle.save_changes(w, changes, ref=f"expiry:{as_of}", at=at)
            return counts

        result: dict[str, int] = self.exchange_writes.with_writer("expiry", run)
        return result

    def freeze(self, *, instrument: str, owner: str, ref: str, reason: str, at: str,
               quantity: int | None = None, actor: str = SYSTEM) -> int:
        """Freeze an owner's units. A freeze of all its units (no ``quantity``), or of more
        than it has available, first ends everything that holds its units in the instrument
        (listed orders, pending sales, holds, agreements, auctions, applications), in the
        same save: no unit escapes a freeze by being listed or parked in a hold."""
        actor = who(actor)

        def run(w: ExchangeWriter) -> int:
            i = self.exchange_writes.instrument_in(w, instrument)
            self.exchange_writes.trader_in(w, owner)
            changes = Changes()
            if quantity is None or quantity > i.freezable(owner):
                self.lifecycle.settle_dependents(w, i, changes, reason=f"freeze {ref}: {reason}",
                                                 by=actor, at=at, owners=(owner,))
            n = i.freeze(owner=owner, quantity=quantity, ref=ref, reason=reason, at=at)
            changes.add(i)
            self.lifecycle.save_changes(w, changes, ref=f"freeze:{ref}", at=at)
            return n

        result: int = self.exchange_writes.with_writer(f"freeze {ref}", run)
        return result

    @command
    def unfreeze(self, *, instrument: str, ref: str, at: str) -> int:
        i = self.core.instrument(instrument)
        n = i.unfreeze(ref=ref, at=at)
        self.core.save(i)
        return n

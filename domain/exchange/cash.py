"""Cash accounts: one CNY account per enterprise, in integer fen.

Administrators record deposits and withdrawals, each with a unique reference (a second record
under the same reference is refused, so a retried request cannot double-credit). Orders, bids and
agreements *reserve* cash; settlement pays from the reservation. Available = balance − reserved.

`post` is the exchange's one movement event: in a group-committed batch each account gets a
single ``Posted`` event with four non-negative totals, applied in this order:

* ``reserved`` — available → reserved (new buy orders, bids, accepted agreements);
* ``paid`` — leaves the account out of its reservation (bought units, delivery-versus-payment);
* ``released`` — reserved → available (cancels, price improvement, market remainders, rejected
  trades, self-trade-prevention cancels);
* ``received`` — credited to the balance (sold units).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.errors import AlreadyExists, InsufficientFunds, InvalidInput
from domain.quantities import check_quantity
from domain.topics import aggregate_topic, event_topic, natural_id


class CashAccount(Aggregate):
    TOPIC = aggregate_topic("CashAccount")

    class Created(Aggregate.Created):
        TOPIC = event_topic("CashAccount", "Created")

    @staticmethod
    def create_id(owner: str, **_: Any) -> UUID:
        return natural_id(f"/cash/{owner}")

    @classmethod
    def open(cls, *, owner: str, at: str) -> CashAccount:
        return cls(owner=owner, at=at)

    @event("Opened", topic=event_topic("CashAccount", "Opened"))
    def __init__(self, owner: str, at: str) -> None:
        self.owner = owner
        self.balance = 0
        self.reserved = 0
        self.deposited = 0
        self.withdrawn = 0
        #: reference -> "deposit" | "withdrawal": refuses a second record under one reference
        self.references: dict[str, str] = {}

    def available(self) -> int:
        return int(self.balance - self.reserved)

    # -- administrator records -----------------------------------------------------------------

    def _check_record(self, amount: int, reference: str, administrator: str) -> None:
        check_quantity(amount, "amount (fen)")
        if not reference.strip() or not administrator.strip():
            raise InvalidInput("a deposit or withdrawal needs a reference and an administrator")
        if reference in self.references:
            raise AlreadyExists(f"{self.owner}: reference {reference!r} is already recorded")

    def deposit(self, *, amount: int, reference: str, administrator: str, at: str) -> None:
        self._check_record(amount, reference, administrator)
        self._deposited(amount=amount, reference=reference, administrator=administrator, at=at)

    @event("Deposited", topic=event_topic("CashAccount", "Deposited"))
    def _deposited(self, amount: int, reference: str, administrator: str, at: str) -> None:
        self.balance += amount
        self.deposited += amount
        self.references[reference] = "deposit"

    def withdraw(self, *, amount: int, reference: str, administrator: str, at: str) -> None:
        self._check_record(amount, reference, administrator)
        if amount > self.available():
            raise InsufficientFunds(
                f"{self.owner} has {self.available()} fen available, {amount} requested"
            )
        self._withdrawn(amount=amount, reference=reference, administrator=administrator, at=at)

    @event("Withdrawn", topic=event_topic("CashAccount", "Withdrawn"))
    def _withdrawn(self, amount: int, reference: str, administrator: str, at: str) -> None:
        self.balance -= amount
        self.withdrawn += amount
        self.references[reference] = "withdrawal"

    # -- exchange movements --------------------------------------------------------------------

    def post(self, *, ref: str, reserved: int = 0, paid: int = 0, released: int = 0,
             received: int = 0, at: str) -> None:
        """Move cash for the exchange (order the module docstring gives); refuses, changing
        nothing, a reservation above the available balance or a release above the reserved."""
        for name, amount in (("reserved", reserved), ("paid", paid), ("released", released),
                             ("received", received)):
            check_quantity(amount, name, allow_zero=True)
        if reserved > self.available():
            raise InsufficientFunds(
                f"{self.owner} has {self.available()} fen available, {reserved} to reserve"
            )
        if paid + released > self.reserved + reserved:
            raise InvalidInput(
                f"{self.owner}: {paid + released} fen to pay or release, only "
                f"{self.reserved + reserved} reserved"
            )
        if not (reserved or paid or released or received):
            return
        self._posted(ref=ref, reserved=reserved, paid=paid, released=released,
                     received=received, at=at)

    @event("Posted", topic=event_topic("CashAccount", "Posted"))
    def _posted(self, ref: str, reserved: int, paid: int, released: int, received: int,
                at: str) -> None:
        self.reserved += reserved - paid - released
        self.balance += received - paid

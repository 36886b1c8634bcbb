"""Agreement (negotiated) transfers: a seller offers units to a named buyer at a price; the buyer
accepts; an administrator verifies, and the trade settles delivery-versus-payment.

Reservations: the seller's units are reserved under ``agreement:<reference>`` at the offer; the
buyer's cash (price × quantity / 1000 fen, which must be whole) at acceptance. Withdrawal,
declining or rejection releases whatever is reserved. Four eyes: the initiators are the users
who offered and accepted; the verifying administrator must be neither.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.errors import FourEyesViolation, InvalidInput, InvalidState
from domain.exchange.money import value
from domain.topics import aggregate_topic, event_topic, natural_id

OFFERED, ACCEPTED, SETTLED, REJECTED, WITHDRAWN = (
    "offered", "accepted", "settled", "rejected", "withdrawn")


class Agreement(Aggregate):
    TOPIC = aggregate_topic("Agreement")

    class Created(Aggregate.Created):
        TOPIC = event_topic("Agreement", "Created")

    @staticmethod
    def create_id(reference: str, **_: Any) -> UUID:
        return natural_id(f"/agreements/{reference}")

    @classmethod
    def offer(cls, *, reference: str, instrument: str, seller: str, buyer: str, price: int,
              qty: int, offered_by: str, at: str) -> Agreement:
        if not reference.strip() or not offered_by.strip():
            raise InvalidInput("an agreement needs a reference and the user offering it")
        if seller == buyer:
            raise InvalidInput("seller and buyer are the same enterprise")
        if type(price) is not int or price <= 0 or type(qty) is not int or qty <= 0:
            raise InvalidInput("price (fen/t) and quantity (kg) are positive integers")
        amount = value(price, qty)
        return cls(reference=reference, instrument=instrument, seller=seller, buyer=buyer,
                   price=price, qty=qty, amount=amount, offered_by=offered_by, at=at)

    @event("Offered", topic=event_topic("Agreement", "Offered"))
    def __init__(self, reference: str, instrument: str, seller: str, buyer: str, price: int,
                 qty: int, amount: int, offered_by: str, at: str) -> None:
        self.reference, self.instrument = reference, instrument
        self.seller, self.buyer = seller, buyer
        self.price, self.qty, self.amount = price, qty, amount
        self.offered_by = offered_by
        self.accepted_by: str | None = None
        self.state = OFFERED
        self.history: list[dict[str, str]] = [{"state": OFFERED, "by": offered_by, "at": at}]

    @property
    def reservation_ref(self) -> str:
        return f"agreement:{self.reference}"

    def _expect(self, *states: str) -> None:
        if self.state not in states:
            raise InvalidState(f"agreement {self.reference} is {self.state}")

    def accept(self, *, buyer: str, accepted_by: str, at: str) -> None:
        self._expect(OFFERED)
        if buyer != self.buyer:
            raise InvalidInput(f"only {self.buyer} may accept agreement {self.reference}")
        if not accepted_by.strip():
            raise InvalidInput("acceptance needs the accepting user")
        self._accepted(accepted_by=accepted_by, at=at)

    @event("Accepted", topic=event_topic("Agreement", "Accepted"))
    def _accepted(self, accepted_by: str, at: str) -> None:
        self.accepted_by = accepted_by
        self.state = ACCEPTED
        self.history.append({"state": ACCEPTED, "by": accepted_by, "at": at})

    def initiators(self) -> list[str]:
        return sorted({self.offered_by, self.accepted_by or self.offered_by})

    def check_verifier(self, administrator: str) -> None:
        self._expect(ACCEPTED)
        if not administrator.strip():
            raise InvalidInput("verification needs the administrator's id")
        if administrator in self.initiators():
            raise FourEyesViolation(
                f"{administrator} initiated agreement {self.reference} and may not verify it"
            )

    def settle(self, *, administrator: str, rule_version: str, at: str) -> None:
        self.check_verifier(administrator)
        self._settled(administrator=administrator, rule_version=rule_version, at=at)

    @event("Settled", topic=event_topic("Agreement", "Settled"))
    def _settled(self, administrator: str, rule_version: str, at: str) -> None:
        self.state = SETTLED
        self.history.append({"state": SETTLED, "by": administrator, "at": at})

    def end(self, *, state: str, by: str, reason: str, at: str) -> str:
        """Withdraw (seller, while offered), decline (buyer, while offered) or reject
        (administrator, until settled). Returns the state it was in (what to release)."""
        if state not in (REJECTED, WITHDRAWN) or not reason.strip() or not by.strip():
            raise InvalidInput("ending an agreement needs who, why and how")
        if state == WITHDRAWN:
            self._expect(OFFERED)
        else:
            self._expect(OFFERED, ACCEPTED)
        was = self.state
        self._ended(state=state, by=by, reason=reason, at=at)
        return was

    @event("Ended", topic=event_topic("Agreement", "Ended"))
    def _ended(self, state: str, by: str, reason: str, at: str) -> None:
        self.state = state
        self.history.append({"state": state, "by": by, "at": at, "reason": reason})

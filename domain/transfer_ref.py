"""A recorded transfer reference: the seller's reference of a negotiated transfer, unique per
instrument and seller.

A client that repeats a transfer request (a retry after a timeout, a double click) under the
same reference must be told it is already recorded, not have the units moved twice; deposits
and withdrawals refuse a repeated bank reference the same way. The record's id is natural
(``/transfers/{instrument}/{seller}/{ref}``) and it is created in the same save as the
transfer, so two concurrent requests under one reference cannot both be stored. Another
seller, or another instrument, has its own references.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.errors import InvalidInput
from domain.topics import aggregate_topic, event_topic, natural_id

#: why units may move between enterprises outside the exchange: never a sale
TRANSFER_REASONS = ("merger", "court-order", "correction")


class TransferReference(Aggregate):
    TOPIC = aggregate_topic("TransferReference")

    class Created(Aggregate.Created):
        TOPIC = event_topic("TransferReference", "Created")

    @staticmethod
    def create_id(instrument: str, seller: str, ref: str, **_: Any) -> UUID:
        return natural_id(f"/transfers/{instrument}/{seller}/{ref}")

    @classmethod
    def record(cls, *, instrument: str, seller: str, ref: str, buyer: str, quantity: int,
               at: str, reason: str, administrator: str) -> TransferReference:
        """Record a transfer outside the exchange's modes: allowed only for a non-trade
        ``reason`` (`TRANSFER_REASONS`) and by an administrator. Sales go through the order
        book, agreements or auctions, delivery versus payment."""
        if not ref.strip():
            raise InvalidInput("a transfer needs a reference")
        if reason not in TRANSFER_REASONS:
            raise InvalidInput(f"a transfer outside the exchange needs a non-trade reason, one "
                               f"of {TRANSFER_REASONS}; sales go through the exchange")
        if not administrator.strip():
            raise InvalidInput("a transfer outside the exchange needs an administrator")
        record = cls(instrument=instrument, seller=seller, ref=ref, buyer=buyer,
                     quantity=quantity, at=at)
        record._authorised(reason=reason, administrator=administrator, at=at)
        return record

    @event("Recorded", topic=event_topic("TransferReference", "Recorded"))
    def __init__(self, instrument: str, seller: str, ref: str, buyer: str, quantity: int,
                 at: str) -> None:
        self.instrument = instrument
        self.seller = seller
        self.ref = ref
        self.buyer = buyer
        self.quantity = quantity
        self.at = at
        self.reason: str | None = None  # None: recorded before reasons were required
        self.administrator: str | None = None

    @event("Authorised", topic=event_topic("TransferReference", "Authorised"))
    def _authorised(self, reason: str, administrator: str, at: str) -> None:
        self.reason, self.administrator = reason, administrator

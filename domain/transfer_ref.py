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


class TransferReference(Aggregate):
    TOPIC = aggregate_topic("TransferReference")

    class Created(Aggregate.Created):
        TOPIC = event_topic("TransferReference", "Created")

    @staticmethod
    def create_id(instrument: str, seller: str, ref: str, **_: Any) -> UUID:
        return natural_id(f"/transfers/{instrument}/{seller}/{ref}")

    @classmethod
    def record(cls, *, instrument: str, seller: str, ref: str, buyer: str, quantity: int,
               at: str) -> TransferReference:
        if not ref.strip():
            raise InvalidInput("a transfer needs a reference")
        return cls(instrument=instrument, seller=seller, ref=ref, buyer=buyer,
                   quantity=quantity, at=at)

    @event("Recorded", topic=event_topic("TransferReference", "Recorded"))
    def __init__(self, instrument: str, seller: str, ref: str, buyer: str, quantity: int,
                 at: str) -> None:
        self.instrument = instrument
        self.seller = seller
        self.ref = ref
        self.buyer = buyer
        self.quantity = quantity
        self.at = at

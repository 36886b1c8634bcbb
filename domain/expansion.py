"""Applications of surplus to an enterprise's own capacity expansion or new products.

submitted (units reserved) → approved (units consumed, linked to the approval reference) or
rejected (units released).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.errors import InvalidInput, InvalidState
from domain.quantities import check_quantity
from domain.topics import aggregate_topic, event_topic, natural_id

SUBMITTED = "submitted"
APPROVED = "approved"
REJECTED = "rejected"


class ExpansionApplication(Aggregate):
    TOPIC = aggregate_topic("ExpansionApplication")

    class Created(Aggregate.Created):
        TOPIC = event_topic("ExpansionApplication", "Created")

    @staticmethod
    def create_id(reference: str, **_: Any) -> UUID:
        return natural_id(f"/expansions/{reference}")

    @classmethod
    def submit(
        cls, *, reference: str, enterprise: str, instrument: str, quantity: int, project: str,
        at: str,
    ) -> ExpansionApplication:
        check_quantity(quantity)
        if not reference.strip() or not project.strip():
            raise InvalidInput("an application needs a reference and a project description")
        return cls(reference=reference, enterprise=enterprise, instrument=instrument,
                   quantity=quantity, project=project, at=at)

    @event("Submitted", topic=event_topic("ExpansionApplication", "Submitted"))
    def __init__(
        self, reference: str, enterprise: str, instrument: str, quantity: int, project: str,
        at: str,
    ) -> None:
        self.reference = reference
        self.enterprise = enterprise
        self.instrument = instrument
        self.quantity = quantity
        self.project = project
        self.state = SUBMITTED
        self.approval: str | None = None
        self.decided_by: str | None = None

    @property
    def reservation_ref(self) -> str:
        return f"expansion:{self.reference}"

    def approve(self, *, administrator: str, approval: str, at: str) -> None:
        if self.state != SUBMITTED:
            raise InvalidState(f"application {self.reference} is {self.state}")
        if not approval.strip():
            raise InvalidInput("approval needs the approval document's reference")
        self._approved(administrator=administrator, approval=approval, at=at)

    @event("Approved", topic=event_topic("ExpansionApplication", "Approved"))
    def _approved(self, administrator: str, approval: str, at: str) -> None:
        self.state = APPROVED
        self.approval = approval
        self.decided_by = administrator

    def reject(self, *, administrator: str, reason: str, at: str) -> None:
        if self.state != SUBMITTED:
            raise InvalidState(f"application {self.reference} is {self.state}")
        self._rejected(administrator=administrator, reason=reason, at=at)

    @event("Rejected", topic=event_topic("ExpansionApplication", "Rejected"))
    def _rejected(self, administrator: str, reason: str, at: str) -> None:
        self.state = REJECTED
        self.decided_by = administrator

"""Third-party cleaner-production audit and verification agencies.

An agency verifies only while accredited and in good standing; fraud found by a spot check goes
on its credit record and bars it from verifying.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.credit import GOOD, CreditRecord
from domain.credit_code import validate_credit_code
from domain.errors import AgencyNotEligible, InvalidInput, InvalidState
from domain.topics import aggregate_topic, event_topic, natural_id


class Agency(CreditRecord, Aggregate):
    TOPIC = aggregate_topic("Agency")

    class Created(Aggregate.Created):
        TOPIC = event_topic("Agency", "Created")

    @staticmethod
    def create_id(credit_code: str, **_: Any) -> UUID:
        return natural_id(f"/agencies/{credit_code}")

    @classmethod
    def register(cls, *, credit_code: str, name: str, at: str,
                 controlled_by: str | None = None) -> Agency:
        """``controlled_by``: the enterprise that controls the agency, as registered (it may
        then neither audit nor verify that enterprise's retrofits)."""
        validate_credit_code(credit_code)
        if controlled_by is not None:
            validate_credit_code(controlled_by)
        if not name.strip():
            raise InvalidInput("an agency needs a name")
        if controlled_by is None:  # the event of old: no controlling enterprise recorded
            return cls(credit_code=credit_code, name=name, at=at)
        return cls(credit_code=credit_code, name=name, at=at, controlled_by=controlled_by)

    @event("Registered", topic=event_topic("Agency", "Registered"))
    def __init__(self, credit_code: str, name: str, at: str,
                 controlled_by: str | None = None) -> None:
        self.credit_code = credit_code
        self.name = name
        self.controlled_by = controlled_by
        self.registered_at = at
        self.accreditation: str | None = None
        self.standing = GOOD
        self.credit_record: list[dict[str, str]] = []

    def accredit(self, *, accreditation: str, at: str) -> None:
        if not accreditation.strip():
            raise InvalidInput("an accreditation needs its certificate reference")
        self._accredited(accreditation=accreditation, at=at)

    @event("Accredited", topic=event_topic("Agency", "Accredited"))
    def _accredited(self, accreditation: str, at: str) -> None:
        self.accreditation = accreditation

    def withdraw_accreditation(self, *, reason: str, at: str) -> None:
        if self.accreditation is None:
            raise InvalidState(f"agency {self.credit_code} is not accredited")
        self._accreditation_withdrawn(reason=reason, at=at)

    @event("AccreditationWithdrawn", topic=event_topic("Agency", "AccreditationWithdrawn"))
    def _accreditation_withdrawn(self, reason: str, at: str) -> None:
        self.accreditation = None

    @event("CreditRestricted", topic=event_topic("Agency", "CreditRestricted"))
    def _restricted(self, reason: str, reference: str, at: str) -> None:
        self._note("restricted", reason, reference, at)

    @event("CreditRestored", topic=event_topic("Agency", "CreditRestored"))
    def _restored(self, reason: str, reference: str, at: str) -> None:
        self._note("restored", reason, reference, at)

    def check_may_audit(self) -> None:
        if self.accreditation is None:
            raise AgencyNotEligible(f"agency {self.credit_code} is not accredited")
        if self.standing != GOOD:
            raise AgencyNotEligible(f"agency {self.credit_code} is barred by its credit record")

    def check_may_verify(self) -> None:
        self.check_may_audit()

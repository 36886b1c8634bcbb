"""Credit records shared by enterprises and agencies.

Fraud or violations restrict a party (an enterprise may not trade, an agency may not audit or
verify); every change is an event on the party's own aggregate, with its reason and reference.
Each aggregate declares its own ``_restricted`` / ``_restored`` events (their topics name the
aggregate) and applies them with ``_note``.
"""

from __future__ import annotations

from domain.errors import InvalidInput, InvalidState

GOOD = "good"
RESTRICTED = "restricted"


class CreditRecord:
    credit_code: str
    standing: str
    credit_record: list[dict[str, str]]

    def restrict(self, *, reason: str, reference: str, at: str) -> None:
        if not reason.strip():
            raise InvalidInput("a credit restriction needs a reason")
        self._restricted(reason=reason, reference=reference, at=at)

    def restore(self, *, reason: str, reference: str, at: str) -> None:
        if self.standing != RESTRICTED:
            raise InvalidState(f"{self.credit_code} is not restricted")
        self._restored(reason=reason, reference=reference, at=at)

    def _restricted(self, reason: str, reference: str, at: str) -> None:
        raise NotImplementedError  # an event of the aggregate

    def _restored(self, reason: str, reference: str, at: str) -> None:
        raise NotImplementedError  # an event of the aggregate

    def _note(self, change: str, reason: str, reference: str, at: str) -> None:
        """Apply a credit-record event: the new standing and one line of the record."""
        self.standing = RESTRICTED if change == "restricted" else GOOD
        self.credit_record.append(
            {"change": change, "reason": reason, "reference": reference, "at": at}
        )

"""Agency commands the registry application does not carry: restoring an agency's credit
standing and withdrawing its accreditation. Same shape as the application's own commands
(get → call → save, retried on conflicts); functions over the registry so that the
application class stays as it is."""

from __future__ import annotations

from typing import TYPE_CHECKING

from registry.app import command

if TYPE_CHECKING:
    from registry.bootstrap import Registry


@command
def restore_agency(registry: Registry, *, credit_code: str, reason: str, reference: str,
                   at: str) -> None:
    a = registry.agency(credit_code)
    a.restore(reason=reason, reference=reference, at=at)
    registry.save(a)


@command
def withdraw_accreditation(registry: Registry, *, credit_code: str, reason: str,
                           at: str) -> None:
    a = registry.agency(credit_code)
    a.withdraw_accreditation(reason=reason, at=at)
    registry.save(a)

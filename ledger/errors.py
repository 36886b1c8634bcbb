"""Errors of the durable ledger (verification failures use ``ledger.merkle.VerificationError``)."""

from __future__ import annotations

__all__ = [
    "LedgerConfigError",
    "LedgerCorruptError",
    "LedgerError",
    "LedgerLockedError",
    "NonExtensionError",
]


class LedgerError(Exception):
    """Base class of ledger storage errors."""


class LedgerCorruptError(LedgerError):
    """The leaf file is damaged inside the signed prefix, or contradicts the signed checkpoint."""


class LedgerLockedError(LedgerError):
    """Another process holds the ledger's data folder."""


class LedgerConfigError(LedgerError):
    """The data folder belongs to another log (origin mismatch)."""


class NonExtensionError(LedgerError):
    """Refused to sign: the tree does not extend the last signed checkpoint."""

"""Errors of the durable ledger (verification failures use ``ledger.merkle.VerificationError``)."""

from __future__ import annotations

__all__ = [
    "LeafMismatchError",
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


class LeafMismatchError(LedgerError):
    """Refused to sign: an unsigned leaf is not what the system of record re-derives.

    ``index`` is the first such leaf.  Nothing is signed until an operator looks."""

    def __init__(self, index: int, message: str) -> None:
        super().__init__(f"leaf {index}: {message}")
        self.index = index

"""Ledger and audit commands (filled in below)."""

from __future__ import annotations

from registry.cli.base import Subparsers


def add_ledger_commands(subparsers: Subparsers) -> None:
    pass


def add_audit_commands(subparsers: Subparsers) -> None:
    pass

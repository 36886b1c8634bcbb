"""Composition root: ``build_registry(env)`` wires the application from an environment mapping.

Nothing runs at import time and nothing mutates ``os.environ``; tests pass their own dict.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from registry import agencies
from registry.app import RegistryBase
from registry.compliance import ComplianceReports
from registry.config import Settings
from registry.credentials import CredentialStore
from registry.datadir import private_dir, private_file
from registry.exchange import ExchangeCommands
from registry.holdings import HoldingCommands
from registry.proposals import ProposalCommands
from registry.queries import Queries
from registry.representatives import RepresentativeCommands
from registry.retrofits import RetrofitCommands
from registry.rights import RightsCommands
from registry.sampling import SamplingCommands
from registry.schema_lock import schema_lock
from registry.users import UserCommands


class Registry(RepresentativeCommands, ProposalCommands, UserCommands, SamplingCommands,
               RightsCommands, RetrofitCommands, HoldingCommands, ExchangeCommands,
               ComplianceReports, Queries, RegistryBase):
    """The registry: every command and query over one event store."""

    def restore_agency(self, *, credit_code: str, reason: str, reference: str,
                       at: str) -> None:
        """Lift an agency's credit restriction (`registry.agencies`)."""
        agencies.restore_agency(self, credit_code=credit_code, reason=reason,
                                reference=reference, at=at)

    def close(self) -> None:
        store = self.__dict__.get("credentials")
        if store is not None:
            store.close()
        super().close()


def build_registry(env: Mapping[str, str]) -> Registry:
    """The registry of ``env``; the credential store (passwords, second factors) lives in the
    data folder beside the SQLite store, or in memory for the memory store."""
    settings = Settings.from_env(env)
    if settings.store == "sqlite":
        private_dir(settings.data_dir)  # 0700; the store's files 0600 (`registry.datadir`)
        db = settings.eventsourcing_env["SQLITE_DBNAME"]
        if os.path.dirname(db):
            private_dir(os.path.dirname(db))
        if ":memory:" not in db and "mode=memory" not in db:
            private_file(db)
    elif settings.store != "memory":
        private_dir(settings.data_dir)
    # constructing the application creates its tables: one process at a time (PostgreSQL)
    with schema_lock(settings.eventsourcing_env):
        registry = Registry(env=settings.eventsourcing_env)
    registry.credentials = CredentialStore(
        None if settings.store == "memory" else settings.data_dir)
    return registry

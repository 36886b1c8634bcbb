"""Composition root: ``build_registry(env)`` wires the application from an environment mapping.

Nothing runs at import time and nothing mutates ``os.environ``; tests pass their own dict.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from registry.app import RegistryBase
from registry.compliance import ComplianceReports
from registry.config import Settings
from registry.exchange import ExchangeCommands
from registry.holdings import HoldingCommands
from registry.queries import Queries
from registry.retrofits import RetrofitCommands
from registry.rights import RightsCommands
from registry.sampling import SamplingCommands
from registry.schema_lock import schema_lock


class Registry(SamplingCommands, RightsCommands, RetrofitCommands, HoldingCommands,
               ExchangeCommands, ComplianceReports, Queries, RegistryBase):
    """The registry: every command and query over one event store."""


def build_registry(env: Mapping[str, str]) -> Registry:
    settings = Settings.from_env(env)
    if settings.store == "sqlite":
        os.makedirs(settings.data_dir, exist_ok=True)
    # constructing the application creates its tables: one process at a time (PostgreSQL)
    with schema_lock(settings.eventsourcing_env):
        return Registry(env=settings.eventsourcing_env)

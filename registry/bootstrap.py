"""Composition root: ``build_registry(env)`` wires the application from an environment mapping.

Nothing runs at import time and nothing mutates ``os.environ``; tests pass their own dict.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from registry.app import RegistryBase
from registry.config import Settings
from registry.datadir import private_dir, private_file
from registry.exchange import ExchangeCommands
from registry.holdings import HoldingCommands
from registry.queries import Queries
from registry.retrofits import RetrofitCommands


class Registry(RetrofitCommands, HoldingCommands, ExchangeCommands, Queries, RegistryBase):
    """The registry: every command and query over one event store."""


def build_registry(env: Mapping[str, str]) -> Registry:
    settings = Settings.from_env(env)
    if settings.store == "sqlite":
        private_dir(settings.data_dir)  # 0700; the store's files 0600 (`registry.datadir`)
        db = settings.eventsourcing_env["SQLITE_DBNAME"]
        if os.path.dirname(db):
            private_dir(os.path.dirname(db))
        if ":memory:" not in db and "mode=memory" not in db:
            private_file(db)
    return Registry(env=settings.eventsourcing_env)

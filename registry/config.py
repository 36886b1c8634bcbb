"""Composition settings read from an environment mapping (never mutating ``os.environ``).

``REGISTRY_DATA_DIR``  data folder (default ``data``); SQLite files and the ledger live there.
``REGISTRY_STORE``     ``sqlite`` (default), ``postgres`` or ``memory``. With ``postgres`` the
                       library's ``POSTGRES_*`` variables select the server.
``REGISTRY_SPEEDUPS``  ``all`` (default), ``none`` or the speed-ups to keep (`registry.speedups`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    data_dir: str
    store: str
    eventsourcing_env: dict[str, str]

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        data_dir = env.get("REGISTRY_DATA_DIR", "data")
        store = env.get("REGISTRY_STORE", "")
        if not store:
            module = env.get("PERSISTENCE_MODULE", "")
            store = {"eventsourcing.postgres": "postgres", "eventsourcing.popo": "memory"}.get(
                module, "sqlite"
            )
        if store not in ("sqlite", "postgres", "memory"):
            raise ValueError(f"REGISTRY_STORE must be sqlite, postgres or memory, not {store!r}")
        es: dict[str, str] = {
            k: v for k, v in env.items()
            if k.startswith(("POSTGRES_", "SQLITE_", "AGGREGATE_CACHE", "IS_SNAPSHOTTING",
                             "REGISTRY_SPEEDUPS"))
        }
        if store == "sqlite":
            es["PERSISTENCE_MODULE"] = "eventsourcing.sqlite"
            es.setdefault("SQLITE_DBNAME", os.path.join(data_dir, "registry.sqlite"))
            es.setdefault("SQLITE_LOCK_TIMEOUT", "10")
        elif store == "postgres":
            es["PERSISTENCE_MODULE"] = "eventsourcing.postgres"
            es.setdefault("POSTGRES_LOCK_TIMEOUT", "10")
            es.setdefault("POSTGRES_POOL_SIZE", "10")
            # no request waits on a down database past ~10 s (`registry.pg_recorder`)
            es.setdefault("POSTGRES_CONNECT_TIMEOUT", "5")
            es.setdefault("APPLICATION_RECORDER_TOPIC", env.get(
                "APPLICATION_RECORDER_TOPIC", "registry.pg_recorder:BoundedPostgresRecorder"))
        else:
            es["PERSISTENCE_MODULE"] = "eventsourcing.popo"
        return cls(data_dir=data_dir, store=store, eventsourcing_env=es)

    @property
    def in_memory(self) -> bool:
        """Whether the store lives in this process's memory (no file, no server): no other
        process can see it."""
        db = self.eventsourcing_env.get("SQLITE_DBNAME", "")
        return self.store == "memory" or (
            self.store == "sqlite" and (":memory:" in db or "mode=memory" in db))

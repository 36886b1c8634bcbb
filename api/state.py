"""What the app holds while it runs: the registry, its ledger and the follower between them."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field

from ledger.log import Ledger
from registry.bootstrap import Registry, build_registry
from registry.ledger_follower import LedgerFollower, LedgerSettings, open_ledger


@dataclass
class AppState:
    registry: Registry
    ledger: Ledger
    follower: LedgerFollower
    lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def open(cls, env: Mapping[str, str]) -> AppState:
        registry = build_registry(env)
        settings = LedgerSettings.from_env(env)
        ledger = open_ledger(settings)
        follower = LedgerFollower(registry, ledger, checkpoint_every=settings.checkpoint_every)
        return cls(registry=registry, ledger=ledger, follower=follower)

    def caught_up(self) -> Ledger:
        """The ledger with a leaf for every event committed so far (and a checkpoint)."""
        with self.lock:
            self.follower.catch_up()
            if self.ledger.latest_checkpoint() is None:
                self.ledger.checkpoint()
        return self.ledger

    def close(self) -> None:
        self.ledger.close()
        self.registry.close()

"""What the app holds while it runs: the registry, its ledger and the follower between them."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from api.tokens import TokenStore
from ledger.log import Ledger
from registry.bootstrap import Registry, build_registry
from registry.config import Settings
from registry.ledger_follower import LedgerFollower, LedgerSettings, open_ledger


@dataclass
class AppState:
    registry: Registry
    ledger: Ledger
    follower: LedgerFollower
    tokens: TokenStore
    lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def open(cls, env: Mapping[str, str]) -> AppState:
        registry = build_registry(env)
        settings = LedgerSettings.from_env(env)
        ledger = open_ledger(settings)
        follower = LedgerFollower(registry, ledger, checkpoint_every=settings.checkpoint_every)
        tokens = open_tokens(env)
        return cls(registry=registry, ledger=ledger, follower=follower, tokens=tokens)

    def caught_up(self) -> Ledger:
        """The ledger with a leaf for every event committed so far (and a checkpoint)."""
        with self.lock:
            self.follower.catch_up()
            if self.ledger.latest_checkpoint() is None:
                self.ledger.checkpoint()
        return self.ledger

    def close(self) -> None:
        self.tokens.close()
        self.ledger.close()
        self.registry.close()


def open_tokens(env: Mapping[str, str]) -> TokenStore:
    """The token store of the data folder."""
    folder = Path(Settings.from_env(env).data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    return TokenStore(folder / "tokens.sqlite")

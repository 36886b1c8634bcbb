"""What the app holds while it runs: the parts the composition root (`registry.bootstrap`)
builds — the registry, its ledger and the follower between them, the order gateway that
group-commits concurrent HTTP orders, the market-data read model — and what only the API
adds: the console's sessions and sign-in, the continuous signer."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from api.console.render import RenderedPages
from api.console.sessions import (
    Authenticate,
    SessionStore,
    signing_key,
    user_login,
)
from api.console.sessions import settings as session_settings
from api.errors import storage_failure
from api.tokens import TokenVerdicts
from domain.errors import NotFound
from ledger.log import Ledger
from registry.bootstrap import Registry, Services
from registry.config import Settings
from registry.datadir import private_dir, private_file, secure_tree
from registry.leaf_process import LeafProcess, wanted
from registry.leaves import Subject
from registry.ledger_follower import (
    ContinuousSigner,
    LedgerFollower,
)
from registry.market_data import MarketData
from registry.order_gateway import OrderGateway
from registry.public import PublicRegistry
from registry.receipts import RecentLeafIndexes, find_recorded, ledger_index, receipt
from registry.storage import committed_saves
from registry.user_changes import UserChanges
from registry.witnesses import WitnessClient

log = logging.getLogger(__name__)


@dataclass
class AppState:
    services: Services  # the composition root's parts (`registry.bootstrap`); it closes them
    registry: Registry
    ledger: Ledger
    follower: LedgerFollower
    gateway: OrderGateway
    market_data: MarketData
    public: PublicRegistry  # what the registry publishes to anyone (the console's public pages)
    sessions: SessionStore  # the console's signed-in sessions
    authenticate: Authenticate  # login, password, TOTP -> principal (a user)
    verdicts: TokenVerdicts  # bearer tokens' principals, kept while no user event is stored
    lock: threading.Lock = field(default_factory=threading.Lock)
    rendered: RenderedPages = field(default_factory=RenderedPages)  # console pages' HTML
    sign_interval: float = 0.1
    signer: ContinuousSigner | None = None
    #: the signer's leaves encoded in a child process (`registry.leaf_process`)
    leaf_process: bool = False
    leaf_encoder: LeafProcess | None = None
    witnesses: WitnessClient | None = None
    #: the ledger indexes of recent positions, each counted once (`ledger_index`)
    leaf_indexes: RecentLeafIndexes = field(init=False)

    def __post_init__(self) -> None:
        self.leaf_indexes = self.services.leaf_indexes

    @classmethod
    def open(cls, env: Mapping[str, str]) -> AppState:
        """The services of ``env`` from the composition root (`registry.bootstrap`), all
        opened, with what only the API adds: the console's sessions and sign-in."""
        secure_tree(Settings.from_env(env).data_dir)  # 0700 / 0600, also what was there before
        services = Services(env)
        try:
            registry = services.registry
            return cls(registry=registry, ledger=services.ledger, follower=services.follower,
                       gateway=services.gateway, market_data=services.market_data,
                       public=services.public, sessions=open_sessions(env),
                       # the console signs users in with their login, password and 2nd factor
                       authenticate=user_login(registry),
                       verdicts=TokenVerdicts(UserChanges.open(registry)),
                       sign_interval=sign_interval(env), leaf_process=wanted(env),
                       witnesses=services.witnesses(), services=services)
        except BaseException:
            services.close()  # what was opened before the failure
            raise

    def start_signing(self) -> None:
        """Follow the store and sign continuously in a thread of its own (the maximum merge
        delay: ``REGISTRY_SIGN_INTERVAL_MS``, 100 ms by default, plus one round's work)."""
        if self.signer is None:
            if self.leaf_process:  # encoding off this process's interpreter lock
                self.leaf_encoder = LeafProcess(self.services.env,
                                                self.follower.encoder.seal.secret)
                self.follower.encode_in(self.leaf_encoder)
            self.signer = ContinuousSigner(self.follower, self.lock,
                                           interval=self.sign_interval,
                                           witnesses=self.witnesses)
            self.signer.start()

    def warm(self) -> None:
        """Do before serving what the first requests would otherwise do while others wait:
        the ledger caught up with the store, the market-data read model folded, every market
        loaded into the exchange writer, the catalogue and instruments into the read copies.
        Each step costs what the log holds since it last ran (all of it on a first start).
        A step that fails is logged and left to the first request that needs it, which then
        reports the error as it always did: the warm-up never keeps the service from
        starting."""
        for name, step in (("ledger", self.caught_up), ("market data", self.market_view),
                           ("exchange writer", self.registry.exchange.warm_exchange),
                           ("read copies", self._warm_read_copies)):
            try:
                step()
            except Exception:
                log.warning("warm-up of the %s failed; its first request will redo it", name,
                            exc_info=True)

    def _warm_read_copies(self) -> None:
        with self.registry.reading_catalogue() as catalogue:
            codes = list(catalogue.entries["instruments"])
        for code in codes:
            with self.registry.reading_instrument(code):
                pass

    def market_view(self) -> MarketData:
        """The market-data read model, caught up with everything committed so far; while the
        store cannot be read, as last caught up (see `_served_without_store`)."""
        try:
            self.market_data.refresh()
        except Exception as exc:
            _served_without_store(exc, "market data")
        return self.market_data

    def caught_up(self) -> Ledger:
        """The ledger with a leaf for every event committed so far (and a checkpoint); while
        the store cannot be read, the ledger as it stands (see `_served_without_store`)."""
        with self.lock:
            try:
                self.follower.catch_up()
            except Exception as exc:
                _served_without_store(exc, "the ledger")
            if self.ledger.latest_checkpoint() is None:
                self.ledger.checkpoint()
        return self.ledger

    def receipt(self, position: int, *, subject_type: str | None = None,
                subject: str | None = None) -> dict[str, Any]:
        """Subject, event, ledger index, leaf, the subject's disclosed parts, inclusion proof
        and covering checkpoint of the event at ``position`` (see ``registry.receipts``),
        after catching the ledger up."""
        self.caught_up()
        with self.lock:  # no catch-up may append while the proof is computed
            return receipt(self.ledger, position, follower=self.follower,
                           subject_type=subject_type, subject=subject)

    def find_recorded(self, before: int, *, subject_type: str, subject: str,
                      event: str | None = None) -> tuple[int, str] | None:
        """(position, event name) of the first event after ``before`` naming that subject."""
        return find_recorded(self.follower, before, subject_type=subject_type,
                             subject=subject, event=event)

    def first_subject(self, position: int) -> Subject:
        """The first (most specific) typed subject the leaf of ``position`` names."""
        notes = self.follower.app.recorder.select_notifications(position, 1)
        if not notes or notes[0].id != position:
            raise NotFound(f"no stored event at log position {position}")
        return self.follower.encoder.subjects(notes[0])[0]

    def ledger_index(self, position: int) -> int:
        """The ledger index the event at ``position`` has (or will have once appended):
        counted in the store beside the signer's work, or for an old position searched in
        the ledger under its lock. A recent position's is counted once (`RecentLeafIndexes`:
        the requests of one batch share its leaf)."""
        index = self.leaf_indexes(position)
        if index is None:
            with self.lock:
                index = ledger_index(self.ledger, position)
        return index

    def close(self) -> None:
        if self.signer is not None:
            self.signer.stop()
        if self.leaf_encoder is not None:
            with self.lock:  # no catch-up is using it
                self.follower.encode_in(None)
            self.leaf_encoder.close()
        self.sessions.close()
        self.verdicts.close()
        self.services.close()  # market data (its live streams), the ledger, the store


def _served_without_store(exc: Exception, what: str) -> None:
    """Reads keep being served from memory while the store is down (market data, the ledger
    as last caught up); re-raise anything else, and a storage failure in a request that has
    just written (its answer must show the write, so it is outcome-unknown instead)."""
    if not storage_failure(exc) or committed_saves.get():
        raise exc
    log.warning("store unreadable: serving %s as last caught up (%s)", what, exc)


def open_sessions(env: Mapping[str, str]) -> SessionStore:
    """The console's session store of the data folder (0700, its files 0600), with its
    signing key."""
    folder = private_dir(Settings.from_env(env).data_dir)
    idle, lifetime = session_settings(env)
    return SessionStore(private_file(folder / "sessions.sqlite"), key=signing_key(folder),
                        idle=idle, lifetime=lifetime)


def sign_interval(env: Mapping[str, str]) -> float:
    """Seconds between the signer's rounds (``REGISTRY_SIGN_INTERVAL_MS``)."""
    text = env.get("REGISTRY_SIGN_INTERVAL_MS", "100")
    if not text.isdigit() or not 1 <= int(text) <= 60_000:
        raise ValueError(f"REGISTRY_SIGN_INTERVAL_MS must be 1..60000, not {text!r}")
    return int(text) / 1000

